// The soak's dashboard, in a process of its own (forked by bench/soak.ts): the API polled every second and one live
// view open, plus `burst` extra pollers without pause until the parent says the warm-up is over. Kept out of the
// edge's process so that the RSS measured there is the appliance's, not that of the test's HTTP client (fetch's
// connection pool and streams grow in the process that makes the requests).
import { get as httpGet, type IncomingMessage } from 'node:http';

interface Start {
  url: string;
  token: string;
  burst: number;
  paths: string[];
  mjpeg: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stopped = false;
let warming = true;
let requests = 0;
let mjpegParts = 0;
const failures: string[] = [];

async function poll(o: Start, headers: Record<string, string>, going: () => boolean, pauseMs: number) {
  while (!stopped && going()) {
    for (const p of o.paths) {
      try {
        const res = await fetch(o.url + p, { headers });
        requests++;
        if (res.status === 200) await res.arrayBuffer();
        else failures.push(`${p}: ${res.status}: ${(await res.text()).slice(0, 120)}`);
      } catch (err) {
        if (!stopped) failures.push(`${p}: ${(err as Error).message}`);
      }
    }
    if (pauseMs) await sleep(pauseMs);
  }
}

let finish: (() => Promise<void>) | undefined;

process.on('message', (m: { start?: Start; warm?: false; stop?: true }) => {
  if (m.start) {
    const o = m.start;
    const headers = { authorization: `Bearer ${o.token}` };
    const boundary = Buffer.from('--guardianframe');
    const live = httpGet(`${o.url}${o.mjpeg}`, { headers, agent: false }, (res: IncomingMessage) => {
      res.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(boundary); i >= 0; i = chunk.indexOf(boundary, i + 1)) mjpegParts++;
      });
      res.on('error', () => {});
    });
    live.on('error', () => {});
    const pollers = [
      poll(o, headers, () => true, 1000),
      ...Array.from({ length: o.burst }, () => poll(o, headers, () => warming, 0)),
    ];
    finish = async () => {
      stopped = true;
      live.destroy();
      await Promise.all(pollers);
    };
  } else if (m.warm === false) warming = false;
  else if (m.stop)
    void (finish?.() ?? Promise.resolve()).then(() =>
      process.send?.({ requests, failures, mjpegParts }, () => process.exit(0)),
    );
});
