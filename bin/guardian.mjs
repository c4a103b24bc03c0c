#!/usr/bin/env node
// The `guardian` command. TypeScript sources run through tsx's loader, so there is no separate compile step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
