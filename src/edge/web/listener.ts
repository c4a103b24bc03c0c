// The socket side of the local UI: timeouts and a connection cap against slow or greedy clients, and, with TLS,
// HTTPS and a redirect to it on the same port (the first byte of a connection says which: 0x16 opens a TLS
// handshake), so that an owner typing http://guardian.local:8080 lands on the HTTPS page.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

import type { HostAllowList } from '../../shared/http/host-check.ts';
import { hostOf } from '../../shared/http/host-check.ts';
import type { AcmeChallenges } from './acme.ts';

/** Enough for a household's browsers and scripts; a flood past it waits in the kernel's backlog instead. */
export const MAX_CONNECTIONS = 256;

export interface WebListener {
  server: NetServer;
  scheme: 'http' | 'https';
  /** Ends every open connection (after server.close() stops new ones). */
  closeAll(): void;
  /** Serves another certificate from the next handshake on (an ACME renewal), without a restart. */
  setCertificate(m: { cert: string; key: string }): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Slowloris and idle sockets: headers within 10 s, a whole request within 60 s (responses may stream longer),
 * checked every second (node's default looks only every 30 s).
 */
const TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 60_000,
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 5_000,
};
function withTimeouts<S extends Server>(server: S): S {
  server.maxHeadersCount = 100;
  return server;
}

export function createWebListener(
  app: Handler,
  tls: { cert: string; key: string } | null,
  hosts: HostAllowList,
  acme?: AcmeChallenges,
): WebListener {
  if (!tls) {
    const server = withTimeouts(createHttpServer(TIMEOUTS, app));
    server.maxConnections = MAX_CONNECTIONS;
    return {
      server,
      scheme: 'http',
      closeAll: () => server.closeAllConnections(),
      setCertificate() {
        throw new Error('the UI is served over plain HTTP');
      },
    };
  }
  const https = withTimeouts(
    createHttpsServer({ ...TIMEOUTS, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, app),
  );
  // Plain HTTP only ever gets a redirect, and only for a name the appliance is known by; or, while an ACME order
  // waits for it, the CA its http-01 answer (public by design: a token and the account key's thumbprint).
  const redirect = withTimeouts(
    createHttpServer(TIMEOUTS, (req, res) => {
      const answer = acme?.answer(req.url);
      if (answer) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
        return;
      }
      const host = hostOf(req.headers.host);
      if (!host || !hosts.allows(host)) {
        res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request\n');
        return;
      }
      res.writeHead(308, { location: `https://${req.headers.host}${req.url ?? '/'}` }).end();
    }),
  );
  const sockets = new Set<Socket>();
  const front = createNetServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setTimeout(10_000, () => socket.destroy()); // nothing sent at all
    socket.once('data', (first) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      (first[0] === 0x16 ? https : redirect).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
    socket.resume();
  });
  front.maxConnections = MAX_CONNECTIONS;
  return {
    server: front,
    scheme: 'https',
    closeAll() {
      https.closeAllConnections();
      redirect.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
    setCertificate: ({ cert, key }) => https.setSecureContext({ cert, key, minVersion: 'TLSv1.2' }),
  };
}
