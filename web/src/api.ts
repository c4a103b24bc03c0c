// Talks to the edge API: the session cookie travels by itself; changes carry the CSRF token from its cookie.
import { type Endpoint, type Query, resolve } from './endpoints.ts';

export { url } from './endpoints.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

function csrf(): string {
  return decodeURIComponent(/(?:^|; )guardian_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? '');
}

/** Calls an endpoint of the table in endpoints.ts; rejects with an ApiError carrying the API's field errors. */
export async function api<T = unknown>(
  endpoint: Endpoint,
  init: { id?: string; query?: Query; body?: unknown } = {},
): Promise<T> {
  const { method, url } = resolve(endpoint, init);
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(method !== 'GET' ? { 'X-CSRF-Token': csrf() } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const e = data?.error ?? {};
    if (res.status === 401) window.dispatchEvent(new Event('guardian:logged-out'));
    throw new ApiError(res.status, e.code ?? 'ERROR', e.message ?? res.statusText, e.issues ?? []);
  }
  return data as T;
}

// The API's answers are declared once, beside the server code that makes them (src/shared/api-types.ts).
export type {
  AlertChannelView,
  AlertDeliveryView,
  AlertSuppressionView,
  AlertView,
  AnomalyModelState,
  ArchiveState,
  CameraRuntime,
  CameraView as Camera,
  EventView as GuardianEvent,
  LatestDetections,
  StatusView as Status,
} from '../../src/shared/api-types.ts';
