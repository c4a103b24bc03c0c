// Issue #20's fault suite, HTTP part: every route of the edge's OpenAPI document, fed random and hostile path
// parameters, query strings and bodies (fast-check, shaped by each route's own schema so that many get past the
// first check), as an admin token. Nothing may answer 5xx (a bug, or an internal detail leaking) and the edge must
// still answer afterwards. The count of inputs is printed for the README's reliability figures.
import assert from 'node:assert/strict';
import { join } from 'node:path';

import fc from 'fast-check';

import type { Edge } from '../../src/edge/runtime.ts';
import { startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; enum?: unknown[] };
interface Operation {
  parameters?: { name: string; in: 'path' | 'query'; schema?: Schema }[];
  requestBody?: { content: { 'application/json'?: { schema: Schema } } };
}

/** Strings an attacker tries first, then anything. */
const hostileString = fc.oneof(
  fc.constantFrom(
    '..',
    '../../etc/passwd',
    '%2e%2e%2f%2e%2e',
    '\u0000',
    '%00',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    '-i',
    'rtsp://169.254.169.254/',
    'file:///etc/shadow',
    'a'.repeat(5000),
    '💥',
    '__proto__',
    'constructor',
    '1e309',
    '-1',
    'NaN',
    '',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** A JSON value for a field of the given schema: mostly of its type (so validation goes deeper), sometimes not. */
function valueFor(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  const typed =
    schema?.enum && schema.enum.length
      ? fc.constantFrom(...schema.enum)
      : type === 'integer' || type === 'number'
        ? fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 53, 1e308))
        : type === 'boolean'
          ? fc.boolean()
          : type === 'array'
            ? fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 })
            : type === 'object'
              ? bodyFor(schema)
              : hostileString;
  return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });
}

function bodyFor(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const props = Object.entries(schema?.properties ?? {});
  const shaped = props.length
    ? fc.record(Object.fromEntries(props.map(([k, s]) => [k, valueFor(s)])), { requiredKeys: [] })
    : fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
  return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) });
}

describe('the edge API fuzzed from its OpenAPI document (#20)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-api-fuzz-');
  let edge: Edge;
  let auth: Record<string, string>;

  before(async () => {
    edge = await startEdge(validateConfig({ dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: 0 } }), {
      log: createLogger({ level: 'silent' }),
    });
    auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('fuzz').token}` };
    // Readiness answers 503 until the media process runs, by design: wait for it.
    for (let i = 0; i < 600 && !edge.ctx.media.ready; i++) await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('answers every route with anything but a 5xx, for random and hostile input, and keeps answering', async () => {
    const doc = (await (await fetch(`${edge.url}/api/openapi.json`, { headers: auth })).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    assert.ok(operations.length >= 30, `${operations.length} operations`);
    let inputs = 0;
    const failures: string[] = [];
    for (const { path, method, op } of operations) {
      const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
      const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query');
      const body = op.requestBody?.content['application/json']?.schema;
      const input = fc.record({
        params: fc.tuple(...pathParams.map(() => hostileString)),
        query: fc.array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...(queryParams.length ? queryParams.map((p) => p.name) : ['x'])), hostileString),
            fc.oneof(hostileString, fc.integer().map(String)),
          ),
          { maxLength: 4 },
        ),
        body: body ? bodyFor(body) : fc.constant(undefined),
        rawBody: fc.option(fc.constantFrom('{', '{"a":', '[1,2', 'null', '"x"', '\u0000', '{"__proto__":{"x":1}}'), {
          freq: 8,
        }),
      });
      await fc.assert(
        fc.asyncProperty(input, async ({ params, query, body: json, rawBody }) => {
          inputs++;
          let url = path;
          for (const [i, p] of pathParams.entries())
            url = url.replace(`{${p.name}}`, encodeURIComponent(String(params[i] ?? '')) || '%20');
          const qs = new URLSearchParams(query.map(([k, v]) => [k, v] as [string, string])).toString();
          const payload =
            method === 'GET' || method === 'DELETE'
              ? undefined
              : (rawBody ?? (json !== undefined ? JSON.stringify(json) : undefined));
          const res = await fetch(`${edge.url}${url}${qs ? `?${qs}` : ''}`, {
            method,
            headers: { ...auth, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(payload !== undefined ? { body: payload } : {}),
            signal: AbortSignal.timeout(20_000),
          });
          // Streams (the live MJPEG of an unknown camera is a 404 at once; a real one would stream): read a little.
          const text = res.headers.get('content-type')?.includes('multipart') ? '' : await res.text();
          if (res.status >= 500)
            failures.push(`${method} ${url}?${qs} ${payload ?? ''} -> ${res.status} ${text.slice(0, 200)}`);
          // Collected rather than thrown: one run lists every route that fails, not only the first.
          return true;
        }),
        // Discovery listens for cameras' answers for seconds each time: a few runs of it are enough.
        { numRuns: path.endsWith('/discover') ? 3 : 30 },
      );
    }
    console.log(`      ${inputs} inputs over ${operations.length} operations, ${failures.length} answered 5xx`);
    assert.deepEqual(failures, []);
    const health = await fetch(`${edge.url}/api/health`);
    assert.equal(health.status, 200);
  });
});
