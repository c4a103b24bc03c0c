// `npm run bench -- [--json] [--only[=] name,...]`: performance figures, each as a ratio to a reference measured in the same run.
import { cpus } from 'node:os';

type Entry = (progress: (msg: string) => void) => Promise<unknown>;
// Loaded on demand, so that one entry's libraries (ONNX Runtime, a browser...) do not weigh on another's figures.
const entries: Record<string, () => Promise<Entry>> = {
  decode: async () => (await import('./decode.ts')).benchDecode,
  detect: async () => (await import('./detect.ts')).benchDetect,
  record: async () => (await import('./record.ts')).benchRecord,
  edge: async () => (await import('./edge.ts')).benchEdge,
  ui: async () => (await import('./ui.ts')).benchUi,
  link: async () => (await import('./link.ts')).benchLink,
  archive: async () => (await import('./archive.ts')).benchArchive,
  alerts: async () => (await import('./alerts.ts')).benchAlerts,
  training: async () => (await import('./training.ts')).benchTraining,
};

const args = process.argv.slice(2);
const json = args.includes('--json');
// `--only=a,b` or `--only a,b`
const onlyAt = args.indexOf('--only');
const onlyArg =
  args.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (onlyAt >= 0 ? args[onlyAt + 1] : undefined);
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
  const load = entries[name];
  if (!load) {
    console.error(`unknown bench entry ${name}; known: ${Object.keys(entries).join(', ')}`);
    process.exit(2);
  }
  result[name] = await (await load())(progress);
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
console.log(json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
