// `guardian discover`: ONVIF cameras on the network and USB cameras on this machine, each with a camera entry
// ready to add. ONVIF credentials come from GUARDIAN_ONVIF_USERNAME / GUARDIAN_ONVIF_PASSWORD (never the command line).
import type { Command } from 'commander';

import { discoverAll } from '../edge/discovery/index.ts';
import { jsonOption, numberOption, patternOption } from './options.ts';
import { fail, printJson } from './output.ts';

export function registerDiscoverCommand(program: Command): void {
  program
    .command('discover')
    .description('Find ONVIF cameras on the local network and USB cameras on this machine')
    .addOption(jsonOption())
    .addOption(
      numberOption(
        '--timeout <ms>',
        'how long to wait for ONVIF answers',
        { min: 100, max: 60_000, integer: true, unit: 'ms' },
        3000,
      ),
    )
    .addOption(
      patternOption(
        '--interface <name>',
        'network interface for the ONVIF probe',
        /^[\w.-]{1,15}$/,
        'a network interface name such as eth0',
      ),
    )
    .option('--no-onvif', 'skip ONVIF discovery')
    .option('--no-usb', 'skip USB discovery')
    .action(async (opts: { json?: boolean; timeout: number; interface?: string; onvif: boolean; usb: boolean }) => {
      try {
        const result = await discoverAll({
          timeoutMs: opts.timeout,
          onvif: opts.onvif,
          usb: opts.usb,
          ...(opts.interface ? { interface: opts.interface } : {}),
          ...(process.env.GUARDIAN_ONVIF_USERNAME
            ? { username: process.env.GUARDIAN_ONVIF_USERNAME, password: process.env.GUARDIAN_ONVIF_PASSWORD ?? '' }
            : {}),
        });
        if (opts.json) return printJson(result);
        if (!result.onvif.length && !result.usb.length) console.log('No cameras found.');
        for (const d of result.onvif) {
          console.log(`ONVIF ${[d.manufacturer, d.model].filter(Boolean).join(' ') || d.urn} at ${d.xaddr}`);
          if (d.error) console.log(`  cannot inspect: ${d.error.message} [${d.error.code}]`);
          for (const p of d.profiles)
            console.log(`  ${p.name}: ${p.encoding ?? '?'} ${p.width ?? '?'}x${p.height ?? '?'} ${p.streamUri ?? ''}`);
          if (d.camera) console.log(`  camera entry: ${JSON.stringify(d.camera)}`);
        }
        for (const u of result.usb) {
          console.log(`USB ${u.name} at ${u.device}${u.driver ? ` (${u.driver})` : ''}`);
          for (const f of u.formats) console.log(`  ${f.fourcc} ${f.description}: ${f.sizes.join(', ')}`);
          console.log(`  camera entry: ${JSON.stringify(u.camera)}`);
        }
      } catch (err) {
        fail(err);
      }
    });
}
