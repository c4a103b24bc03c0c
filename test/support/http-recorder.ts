// A real HTTP receiver on loopback that records every request (webhook, ntfy-like push, alert tests): answers
// /status/<code> with that code, never answers /hang, and 200 otherwise.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  /** The path and query as sent. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** When the body had arrived (Date.now()). */
  at: number;
}

export async function recordingServer(): Promise<{ server: Server; base: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const path = new URL(url, 'http://x').pathname;
      requests.push({
        method: req.method ?? '',
        url,
        path,
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      });
      if (path === '/hang') hanging.push(res);
      else res.writeHead(Number(/^\/status\/(\d{3})$/.exec(path)?.[1] ?? 200)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}
