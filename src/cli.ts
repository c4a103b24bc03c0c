// The `guardian` command: one binary for the edge, the VM and the tools.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Command } from 'commander';

import { registerAnomalyCommands } from './commands/anomaly.ts';
import { registerArchiveCommands } from './commands/archive.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDetectCommand } from './commands/detect.ts';
import { registerDiscoverCommand } from './commands/discover.ts';
import { registerEdgeCommands } from './commands/edge.ts';
import { registerMediaCommands } from './commands/media.ts';
import { fail } from './commands/output.ts';
import { registerTamperCommand } from './commands/tamper.ts';
import { registerTrainCommands } from './commands/train.ts';
import { registerVmCommands } from './commands/vm.ts';
import { GuardianError } from './shared/errors.ts';
import { restrictUmask } from './shared/fs-perms.ts';
import { projectRoot } from './shared/paths.ts';

// Everything a command writes (the servers' data, keys, pairing files, decrypted archives) is the user's only.
restrictUmask();

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };

const program = new Command();
program
  .name('guardian')
  .description('Privacy-first home security: cameras, detection, recording, and an encrypted link to your own server')
  .version(pkg.version)
  // Usage errors (a bad option value, an unknown option, a missing argument) read like every other error: one line
  // `guardian: … [INVALID_ARGUMENT]` on stderr, exit status 2. Commander prints nothing itself; --help and
  // --version keep their own exit status. Set before the commands are added, which inherit it.
  .configureOutput({ outputError: () => {} })
  .exitOverride((err) => {
    if (err.exitCode === 0 || err.code === 'commander.help') process.exit(err.exitCode);
    const message = err.message
      .replace(/^error: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .replace(/\.$/, '');
    fail(new GuardianError('INVALID_ARGUMENT', message));
  });

registerMediaCommands(program);
registerDetectCommand(program);
registerDiscoverCommand(program);
registerEdgeCommands(program);
registerVmCommands(program);
registerConfigCommands(program);
registerArchiveCommands(program);
registerTamperCommand(program);
registerAnomalyCommands(program);
registerTrainCommands(program);

// Whatever a command did not handle still ends as one line on stderr, not a stack trace.
await program.parseAsync(process.argv).catch((err: unknown) => fail(err));
