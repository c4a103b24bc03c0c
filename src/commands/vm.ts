// `guardian vm --config FILE` (the owner's server), `guardian keys pair` (a one-time pairing code, on the VM) and
// `guardian pair <code>` (on the edge).
import { resolve } from 'node:path';

import type { Command } from 'commander';

import { pairEdge } from '../edge/link/pairing.ts';
import { loadConfig } from '../shared/config.ts';
import { openDatabase } from '../shared/db.ts';
import { GuardianError } from '../shared/errors.ts';
import { createLogger } from '../shared/log.ts';
import { issueApiToken } from '../vm/api-token.ts';
import { vmMigrations } from '../vm/cache/schema.ts';
import { loadVmConfig, type VmConfig } from '../vm/config.ts';
import { issueVmPairing, startVm, vmDatabasePath } from '../vm/runtime.ts';
import { jsonOption } from './options.ts';
import { fail } from './output.ts';
import { configOrExit, stopOnSignal } from './process.ts';

export function registerVmCommands(program: Command): void {
  program
    .command('vm')
    .description("Run the owner's server: event cache, edge link (gRPC over WireGuard), clip relay and HTTP API")
    .requiredOption(
      '--config <file>',
      'YAML configuration (GUARDIAN_CONFIG__SECTION__KEY environment variables override it)',
    )
    .action(async (opts: { config: string }) => {
      const file = resolve(opts.config);
      const config = configOrExit(() => loadVmConfig(file), file);
      const log = createLogger(); // human-readable on a terminal, JSON lines otherwise
      const signals = stopOnSignal();
      let vm: Awaited<ReturnType<typeof startVm>>;
      try {
        vm = await startVm(config, { log, configPath: file });
      } catch (err) {
        fail(err, 'the VM could not start');
      }
      const issued = vm.apiTokenIssued;
      if (issued)
        process.stderr.write(
          issued.file
            ? `\nThe owner API token was issued and written to ${issued.file} (0600). The server keeps only its hash:\n` +
                'keep the token somewhere safe (a password manager), then you may delete the file.\n\n'
            : `\nThe owner API token (shown once; the server keeps only its hash):\n\n  ${issued.token}\n\n`,
        );
      signals.running(vm.stop);
    });

  const keys = program.command('keys').description("Pairing and keys of the owner's server");
  keys
    .command('pair')
    .description('Issue a one-time pairing code for a new edge (give it to `guardian pair` on the edge)')
    .requiredOption('--config <file>', "the VM's YAML configuration")
    .option('--name <name>', 'a name for the edge')
    .addOption(jsonOption())
    .action((opts: { config: string; name?: string; json?: boolean }) => {
      const file = resolve(opts.config);
      const config: VmConfig = configOrExit(() => loadVmConfig(file), file);
      if (!config.http.port || !config.grpc.port)
        fail(
          new GuardianError(
            'INVALID_ARGUMENT',
            'http.port and grpc.port must be fixed to issue codes offline; or POST /api/pairings on the running VM',
          ),
        );
      const db = openDatabase(vmDatabasePath(config), vmMigrations);
      try {
        const issued = issueVmPairing(db, config, { http: config.http.port, grpc: config.grpc.port }, opts.name);
        if (opts.json) console.log(JSON.stringify(issued));
        else {
          console.log(issued.code);
          process.stderr.write(
            `\nOne-time code for ${issued.edgeId}, valid until ${new Date(issued.expiresAt).toISOString()}.\n` +
              'On the edge run: guardian pair <code> --config <edge config>\n',
          );
        }
      } catch (err) {
        fail(err);
      } finally {
        db.close();
      }
    });

  keys
    .command('token')
    .description('Issue a new owner API token (the old one stops working at once; the server keeps only its hash)')
    .requiredOption('--config <file>', "the VM's YAML configuration")
    .addOption(jsonOption())
    .action((opts: { config: string; json?: boolean }) => {
      const file = resolve(opts.config);
      const config: VmConfig = configOrExit(() => loadVmConfig(file), file);
      try {
        const issued = issueApiToken(config);
        if (opts.json) console.log(JSON.stringify(issued));
        else {
          console.log(issued.token);
          process.stderr.write(
            `\nThe new owner API token${issued.file ? ` (also written to ${issued.file}, 0600)` : ''}: shown once; ` +
              'the server keeps only its hash and accepts it at once.\n',
          );
        }
      } catch (err) {
        fail(new GuardianError('INVALID_ARGUMENT', (err as Error).message));
      }
    });

  program
    .command('pair')
    .description("Pair this edge with its owner's server using a code from `guardian keys pair`")
    .argument('<code>', 'the pairing code ("-" reads it from stdin, which keeps it out of the process list)')
    .requiredOption('--config <file>', "the edge's YAML configuration")
    .option('--name <name>', 'how the server should call this edge (default: the host name)')
    .addOption(jsonOption())
    .action(async (code: string, opts: { config: string; name?: string; json?: boolean }) => {
      const file = resolve(opts.config);
      const config = configOrExit(() => loadConfig(file), file);
      let text = code;
      if (code === '-') {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        text = Buffer.concat(chunks).toString('utf8');
      }
      try {
        const s = await pairEdge(text, config.dataDir, opts.name ? { name: opts.name } : {});
        const summary = { edgeId: s.edgeId, vm: s.grpc, tunnel: s.tunnel?.edgeAddress ?? null };
        if (opts.json) console.log(JSON.stringify(summary));
        else
          console.log(
            `Paired as ${s.edgeId}; the link goes to ${s.grpc}${s.tunnel ? ` through WireGuard (this edge is ${s.tunnel.edgeAddress})` : ''}.\n` +
              'Start (or restart) `guardian edge` to connect.',
          );
      } catch (err) {
        fail(err, 'pairing failed');
      }
    });
}
