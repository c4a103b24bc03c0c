// Every edge endpoint the UI uses, as "METHOD /path" (after /api; parameters as :id). api() and url() accept only
// these, so test/unit/ui-api-contract.test.ts can check each against the edge's /api/openapi.json.
// No DOM here: the contract test imports this file under Node.
export const ENDPOINTS = [
  'GET /auth/state',
  'POST /auth/setup',
  'GET /auth/tokens',
  'POST /auth/tokens',
  'DELETE /auth/tokens/:id',
  'POST /auth/login',
  'POST /auth/logout',
  'GET /status',
  'GET /telemetry',
  'GET /cameras',
  'POST /cameras',
  'PUT /cameras/:id',
  'DELETE /cameras/:id',
  'POST /cameras/test',
  'GET /cameras/discover',
  'GET /cameras/offered',
  'GET /cameras/:id/latest.jpg',
  'GET /cameras/:id/live.mjpeg',
  'GET /cameras/:id/detections',
  'GET /cameras/:id/anomaly',
  'POST /cameras/:id/anomaly/learn',
  'POST /cameras/:id/anomaly/rollback',
  'POST /cameras/:id/screenshots',
  'GET /events',
  'GET /events/:id',
  'GET /events/:id/thumbnail.jpg',
  'GET /events/:id/snapshot.jpg',
  'GET /events/:id/clip.mp4',
  'POST /events/:id/protect',
  'POST /events/:id/verdict',
  'GET /config',
  'PUT /config',
  'GET /config/schema',
  'POST /link/pair',
  'POST /link/pair/preview',
  'GET /screenshots',
  'PUT /screenshots/:id',
  'GET /screenshots/:id/image',
  'GET /datasets/export.zip',
  'POST /datasets/upload',
  'GET /datasets/uploads',
  'GET /alerts',
  'GET /alerts/channels',
  'PUT /alerts/channels/:id/secret',
  'POST /alerts/channels/:id/test',
  'GET /alerts/suppressions',
  'DELETE /alerts/suppressions/:id',
  'GET /alerts/webpush',
  'POST /alerts/webpush/subscriptions',
  'POST /alerts/webpush/unsubscribe',
] as const;

export type Endpoint = (typeof ENDPOINTS)[number];

export type Query = Record<string, string | number | undefined>;

/** The method and URL of an endpoint, with its :id filled in and the query's defined values appended. */
export function resolve(
  endpoint: Endpoint,
  opts: { id?: string; query?: Query } = {},
): { method: string; url: string } {
  const [method = 'GET', path = ''] = endpoint.split(' ');
  if (path.includes(':id') && !opts.id) throw new Error(`${endpoint} needs an id`);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) q.set(k, String(v));
  const qs = q.toString();
  return { method, url: `/api${path.replace(':id', encodeURIComponent(opts.id ?? ''))}${qs ? `?${qs}` : ''}` };
}

/** A URL for <img>, <video> and links (GET only). */
export const url = (endpoint: Endpoint & `GET ${string}`, opts: { id?: string; query?: Query } = {}) =>
  resolve(endpoint, opts).url;
