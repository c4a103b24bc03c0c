// `guardian edge --config FILE` and `guardian demo`: the appliance itself.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { Command } from 'commander';
import YAML from 'yaml';

import { startEdge } from '../edge/runtime.ts';
import { CONSOLE } from '../edge/web/auth.ts';
import { loadConfig, validateConfig } from '../shared/config.ts';
import { NotFoundError } from '../shared/errors.ts';
import { createLogger } from '../shared/log.ts';
import { sharedPath } from '../shared/paths.ts';
import { type DemoVm, startLoopbackDemoVm, startTunnelDemoVm } from './demo-vm.ts';
import { numberOption } from './options.ts';
import { fail } from './output.ts';
import { configOrExit, stopOnSignal } from './process.ts';

const port = { min: 0, max: 65_535, integer: true };

export function registerEdgeCommands(program: Command): void {
  program
    .command('edge')
    .description('Run the edge appliance: cameras, detection, recording, events and the web API')
    .requiredOption(
      '--config <file>',
      'YAML configuration (GUARDIAN_CONFIG__SECTION__KEY environment variables override it)',
    )
    .action(async (opts: { config: string }) => {
      const file = resolve(opts.config);
      const config = configOrExit(() => loadConfig(file), file);
      const log = createLogger(); // human-readable on a terminal, JSON lines otherwise
      const signals = stopOnSignal('finishing recordings and stopping');
      const edge = await startEdge(config, { log, configPath: file });
      // The setup code is on the console and in the log only: whoever can read those is at the box (or its owner).
      const code = edge.ctx.auth.setupCode();
      if (code) {
        log.warn(`first run: open ${edge.url}/ to set the admin password; the setup code is ${code}`);
        if (process.stdout.isTTY) console.log(`\n  First run. Open ${edge.url}/ and enter the setup code  ${code}\n`);
      }
      if (edge.tls)
        log.info(
          `the UI's certificate${edge.tls.created ? ' (made now)' : ''} has the SHA-256 fingerprint ${edge.tls.fingerprint}: your browser should show the same`,
        );
      if (edge.archiveKey.created) showNewArchiveSecret(edge.archiveKey.created, edge.archiveKey.secretFile);
      signals.running(edge.stop);
    });

  program
    .command('demo')
    .description('Start Guardian on its built-in sample video: live view, events, clips and snapshots within a minute')
    .option('--data-dir <dir>', 'where the demo keeps its database and recordings', join(tmpdir(), 'guardian-demo'))
    .addOption(numberOption('--port <n>', 'HTTP port', port, 8080))
    .option('--admin-password <pw>', 'admin password (default: generated and printed)')
    .option('--first-run', 'leave the admin password unset: the web UI asks for it, as on a new appliance')
    .addOption(
      numberOption('--vm-port <n>', "HTTP port of the demo's own server (the user VM); 0 picks a free one", port, 0),
    )
    .option(
      '--tunnel',
      'run the VM in a network namespace of its own and link to it through WireGuard (needs root and wireguard-go)',
    )
    .option(
      '--archive-secret-file <file>',
      'the secret encrypting archived evidence (default: made in the data dir, and its path printed)',
    )
    .option(
      '--webhook <url>',
      'send alerts to this URL (a signed JSON POST; the demo is armed, so a person is a critical alert)',
    )
    .option('--no-open', 'do not open a browser')
    .action(
      async (opts: {
        dataDir: string;
        port: number;
        vmPort: number;
        tunnel?: boolean;
        adminPassword?: string;
        firstRun?: boolean;
        archiveSecretFile?: string;
        webhook?: string;
        open: boolean;
      }) => {
        // Quiet by default (the media process inherits the level); GUARDIAN_LOG_LEVEL=info shows everything.
        process.env.GUARDIAN_LOG_LEVEL ??= 'warn';
        const log = createLogger();
        const signals = stopOnSignal('finishing recordings and stopping');
        const dataDir = resolve(opts.dataDir);
        mkdirSync(dataDir, { recursive: true });
        const video = sharedPath('media', 'vtest.mp4');
        if (!existsSync(video))
          fail(new NotFoundError(`the sample video is missing at ${video} (set GUARDIAN_SHARED)`));
        // The owner's server, paired with the edge like a real one; the edge delivers its events to it.
        let vm: DemoVm;
        try {
          vm = opts.tunnel
            ? await startTunnelDemoVm(dataDir, log)
            : await startLoopbackDemoVm(dataDir, opts.vmPort, log);
        } catch (err) {
          fail(err, "the demo's server could not start");
        }
        const config = configOrExit(() =>
          validateConfig({
            dataDir,
            http: { host: '127.0.0.1', port: opts.port },
            recording: { minFreeBytes: 256 * 1024 * 1024, minFreeMinutes: 0, continuousDays: 1 },
            cameras: { 'demo-street': { recordMode: 'continuous' } },
            ...(opts.archiveSecretFile ? { archive: { secretFile: resolve(opts.archiveSecretFile) } } : {}),
            ...(opts.webhook
              ? { alerts: { armed: 'armed', channels: { webhook: { enabled: true, url: opts.webhook } } } }
              : {}),
            ...(vm.edgeInterface ? { link: { interface: vm.edgeInterface } } : {}),
          }),
        );
        const configPath = join(dataDir, 'config.yaml');
        writeFileSync(configPath, YAML.stringify(config));
        const edge = await startEdge(config, { log, configPath });
        const password = opts.adminPassword ?? randomBytes(9).toString('base64url');
        const existingAdmin = edge.ctx.auth.hasAdmin();
        if (!existingAdmin && !opts.firstRun) await edge.ctx.auth.setup(password, CONSOLE);
        if (!edge.ctx.registry.list().some((c) => c.id === 'demo-street')) {
          // The sample video, played in real time and looping: a camera that never runs out.
          edge.ctx.registry.add({
            id: 'demo-street',
            name: 'Demo street',
            kind: 'file',
            recordUrl: video,
            detectFps: 5,
          });
          await new Promise<void>((r) => edge.ctx.media.once('ready', () => r()));
          await edge.ctx.reloadCamera('demo-street');
        }
        console.log(`Guardian demo is running at ${edge.url}/`);
        if (opts.firstRun && !edge.ctx.auth.hasAdmin())
          console.log(`  open it to choose the admin password; the setup code is ${edge.ctx.auth.setupCode()}`);
        else if (existingAdmin)
          console.log(`  log in as admin with the password chosen when ${dataDir} was first used`);
        else console.log(`  log in as admin / ${opts.adminPassword ? '(the password you gave)' : password}`);
        console.log(`  API: ${edge.url}/api/openapi.json   data: ${dataDir}`);
        console.log(
          `  your server (VM): ${vm.url}/api/events  (Authorization: Bearer <${vm.tokenFile}>)${opts.tunnel ? ', through WireGuard' : ''}`,
        );
        console.log(
          `  archive: clips, snapshots and metadata go to your server encrypted; the secret is ${edge.archiveKey.secretFile} (without it they cannot be decrypted)`,
        );
        if (opts.webhook)
          console.log(
            `  alerts: POSTed to ${shownUrl(opts.webhook)}, signed with the key in ${edge.ctx.alerts.secrets.webhookSecretFile} (HMAC-SHA256 of "<x-guardian-timestamp>.<body>" in x-guardian-signature)`,
          );
        console.log('  events appear within a minute; Ctrl-C stops (recordings are finished first)');
        if (opts.open && process.env.DISPLAY && spawnSync('which', ['xdg-open']).status === 0)
          spawn('xdg-open', [`${edge.url}/`], { detached: true, stdio: 'ignore' }).unref();
        signals.running(async () => {
          await edge.stop();
          await vm.stop();
        });
      },
    );
}

/** A URL as printed: its origin and path, without credentials or a query (either may hold a token). */
function shownUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** First run: the archive secret, shown once (not logged: logs are kept), with what it is for. */
function showNewArchiveSecret(secret: string, file: string): void {
  const lines = [
    'A new archive recovery secret was made. Write it down and keep it away from this box:',
    `  ${secret}`,
    `It is also in ${file} (0600). Archived footage can be decrypted with nothing but this secret`,
    '(`guardian archive decrypt`), and without it, it is gone.',
  ];
  if (process.stdout.isTTY) console.log(lines.join('\n'));
  else console.log(`A new archive recovery secret is in ${file} (0600): keep a copy away from this box.`);
}
