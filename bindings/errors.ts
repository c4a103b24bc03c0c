// The one error class of Guardian and the one list of its codes. Errors made by the native addon are instances of
// this class too: bindings/native.ts hands it to the addon (setErrorClass) when loading it, and the addon constructs
// every error it reports with it, so `err instanceof GuardianError` and `err.code` hold on both sides of the boundary.
// This file imports nothing: src/ imports it (src/shared/errors.ts re-exports it), never the other way round.

/**
 * Every stable error code, by where it comes from. A code says what went wrong in a way a program can act on; the
 * message says it to a person. HTTP statuses are derived from codes (src/shared/http/api.ts).
 */
export const ERROR_CODES = [
  // Input and state
  'INVALID_ARGUMENT', // a bad value; the message names the field
  'INVALID_STATE', // a call at the wrong moment (read() before open() ...)
  'NOT_FOUND',
  'CONFLICT',
  'TOO_LARGE',
  'RANGE_NOT_SATISFIABLE',
  'EXPIRED', // a one-time thing (a pairing code) past its time
  // Access
  'UNAUTHORIZED', // no or wrong credentials (HTTP 401, an RTSP camera refusing its password)
  'FORBIDDEN',
  'CSRF', // a state-changing request without its CSRF token
  'MISDIRECTED', // a Host header naming something the server is not (DNS rebinding)
  'PERMISSION_DENIED', // the operating system refused (a file, a device)
  'RATE_LIMITED',
  // Availability
  'TIMEOUT',
  'UNAVAILABLE', // a peer (an edge, the VM) is not connected or stopped answering
  'MEDIA_UNAVAILABLE', // the media process is not running
  'MEDIA_RESTARTING', // the media process exited while a request was pending
  'RESOURCE_EXHAUSTED', // no room left (tunnel addresses, disk)
  'CLOSED', // the object was closed while the call was pending
  'CANCELLED', // the owner stopped it (a training job)
  // Media (native addon)
  'CONNECTION_REFUSED',
  'PROTOCOL_ERROR',
  'UNSUPPORTED_CODEC',
  'UNSUPPORTED_INPUT',
  'CORRUPT_DATA',
  'IO_ERROR',
  'DISK_FULL',
  'OUT_OF_MEMORY',
  'NO_FRAME', // the frame asked for has left the ring of recent frames
  'CLIP_FAILED',
  'UNPLUGGED', // a USB camera that is no longer there
  'MEDIA_ERROR', // any other FFmpeg failure
  'ADDON_NOT_BUILT',
  // Anything else: a bug
  'INTERNAL',
] as const;

// Finer-grained codes internal to one module (the VM's PairingError: USED, BAD_PROOF, FULL; its RelayError: RANGE)
// are mapped onto this list where they become GuardianErrors (src/vm/http.ts).

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

class GuardianErrorClass extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'GuardianError';
    this.code = code;
  }
}

// One class per process, even when this module is instantiated twice (a loader may evaluate a file once as ESM and
// once as CommonJS; the addon would then hold the other copy and `instanceof` would fail across the boundary).
const GLOBAL_KEY = Symbol.for('guardian.GuardianError');
const registry = globalThis as unknown as Record<symbol, typeof GuardianErrorClass | undefined>;
registry[GLOBAL_KEY] ??= GuardianErrorClass;

export const GuardianError = registry[GLOBAL_KEY];
export type GuardianError = GuardianErrorClass;

/** The media core's errors: the same class (kept as a name for existing callers). */
export const MediaError = GuardianError;
export type MediaError = GuardianError;

/** Bad input: the message names the field and the expected form. */
export function invalidArgument(message: string): GuardianError {
  return new GuardianError('INVALID_ARGUMENT', message);
}
