// Capped exponential backoff with jitter: the one formula behind every retry (camera reconnects, outbox deliveries,
// the link's reconnect loop, the VM's tunnel restart, the media process restart).

export interface BackoffOptions {
  /** The delay before the first retry (attempt 0). */
  initialMs: number;
  /** The cap of the delay (before jitter). */
  maxMs: number;
  /** Growth per attempt: 2 doubles the delay each time, 1 keeps it constant. */
  factor: number;
  /** 0.2 = each delay is randomly up to 20 % shorter or longer, so many clients do not retry in lockstep; 0 = none. */
  jitter: number;
}

/**
 * The delay before retry `attempt` (0 for the first): min(maxMs, initialMs × factor^attempt), then ± jitter, in whole
 * milliseconds. Any attempt number is safe: a growth that overflows is the cap. `random` returns [0, 1).
 */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const base = b.initialMs > 0 ? Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, attempt)) : 0;
  return Math.max(0, Math.round(base * (1 + b.jitter * (2 * random() - 1))));
}
