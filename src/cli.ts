// The `guardian` command: one binary for the edge, the VM and the tools.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Command } from 'commander';

import { registerDetectCommand } from './commands/detect.ts';
import { registerDiscoverCommand } from './commands/discover.ts';
import { registerEdgeCommands } from './commands/edge.ts';
import { registerMediaCommands } from './commands/media.ts';
import { registerVmCommands } from './commands/vm.ts';
import { projectRoot } from './shared/paths.ts';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };

const program = new Command();
program
  .name('guardian')
  .description('Privacy-first home security: cameras, detection, recording, and an encrypted link to your own server')
  .version(pkg.version)
  .showHelpAfterError();

registerMediaCommands(program);
registerDetectCommand(program);
registerDiscoverCommand(program);
registerEdgeCommands(program);
registerVmCommands(program);

await program.parseAsync(process.argv);
