// `npm run bench -- [--json] [--only name,...]`: performance figures, each as a ratio to a reference measured in the same run.
import { cpus } from 'node:os';

import { benchDecode } from './decode.ts';
import { benchDetect } from './detect.ts';
import { benchEdge } from './edge.ts';
import { benchRecord } from './record.ts';
import { benchUi } from './ui.ts';

const entries: Record<string, (progress: (msg: string) => void) => Promise<unknown>> = {
  decode: benchDecode,
  detect: benchDetect,
  record: benchRecord,
  edge: benchEdge,
  ui: benchUi,
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg ? onlyArg.split(',') : Object.keys(entries);
const progress = (msg: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[bench] ${msg}`);
  else if (!json) process.stderr.write(`[bench] ${msg}\n`);
};

const result: Record<string, unknown> = {
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  date: new Date().toISOString(),
};
for (const name of only) {
  const run = entries[name];
  if (!run) {
    console.error(`unknown bench entry ${name}; known: ${Object.keys(entries).join(', ')}`);
    process.exit(2);
  }
  result[name] = await run(progress);
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
console.log(json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
