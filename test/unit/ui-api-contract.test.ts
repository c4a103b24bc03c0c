// The web UI and the edge API agree: every endpoint in the UI's table (web/src/endpoints.ts) is in the edge's
// /api/openapi.json, and the UI reaches the API only through that table (no stray '/api/...' URL or fetch).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

import type { RequestHandler } from 'express';

import { createEdgeServer, type EdgeContext } from '../../src/edge/web/server.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { ENDPOINTS } from '../../web/src/endpoints.ts';

const webSrc = join(projectRoot, 'web', 'src');
const sources = (readdirSync(webSrc, { recursive: true }) as string[])
  .filter((f) => /\.tsx?$/.test(f))
  .map((f) => ({ file: relative(webSrc, join(webSrc, f)), text: readFileSync(join(webSrc, f), 'utf8') }));

describe('UI ↔ edge API contract', () => {
  let openapi: { paths: Record<string, Record<string, unknown>> };

  before(async () => {
    // Routes are declared without touching the context; only the auth middleware is made up front (let all in).
    const pass: RequestHandler = (_req, _res, next) => next();
    const ctx = {
      version: 'test',
      config: { http: { allowedHosts: [], tls: {} } },
      auth: { middleware: () => pass },
    } as unknown as EdgeContext;
    const server = createEdgeServer(ctx).listener.server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/openapi.json`);
      assert.equal(res.status, 200);
      openapi = (await res.json()) as typeof openapi;
    } finally {
      server.close();
    }
  });

  it('every method and path the UI calls is in /api/openapi.json', () => {
    const missing = ENDPOINTS.filter((e) => {
      const [method = '', path = ''] = e.split(' ');
      return !openapi.paths[`/api${path.replace(/:(\w+)/g, '{$1}')}`]?.[method.toLowerCase()];
    });
    assert.deepEqual(missing, [], 'UI endpoints without a route');
  });

  it('the UI reaches the API only through the table, and uses every entry of it', () => {
    const stray = sources
      .filter((s) => s.file !== 'endpoints.ts')
      .flatMap((s) => [
        ...[...s.text.matchAll(/['"`]\/api\b[^'"`]*/g)].map((m) => `${s.file}: ${m[0]}`),
        ...(s.file !== 'api.ts' && /\bfetch\(|XMLHttpRequest|EventSource/.test(s.text) ? [`${s.file}: fetch`] : []),
      ]);
    assert.deepEqual(stray, [], 'API URLs written outside web/src/endpoints.ts (use api() or url())');
    const used = sources.filter((s) => s.file !== 'endpoints.ts').map((s) => s.text);
    const unused = ENDPOINTS.filter((e) => !used.some((t) => t.includes(`'${e}'`)));
    assert.deepEqual(unused, [], 'entries of the table no page uses');
  });
});
