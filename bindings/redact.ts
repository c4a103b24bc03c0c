// Credentials never leave a URL in text meant for people: rtsp://user:pass@host/x -> rtsp://***@host/x
// (bindings/ depends on nothing in src/; src/shared/redact.ts re-exports this for the app.)
//
// Owners type passwords raw, so a password may hold "@", "#", "?" or "/": everything from the scheme up to the
// LAST "@" of the URL goes, even where that "@" was in a path (rtsp://host/a@b -> rtsp://***@b): hiding a host
// now and then is the price of never showing a password. A URL ends at whitespace or a quote.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>`]*@/gi;

/** Values that must never be printed, wherever they appear (camera passwords, tokens), longest first. */
const secrets = new Set<string>();
let secretPattern: RegExp | null = null;

/** Registers a value to censor in every redacted text from now on (at least 6 characters, shorter ones would censor common words; at most 10 000 kept). */
export function addSecret(value: string | undefined): void {
  if (!value || value.length < 6 || secrets.has(value)) return;
  if (secrets.size >= 10_000) secrets.delete(secrets.values().next().value as string);
  secrets.add(value);
  const alternatives = [...secrets]
    .sort((a, b) => b.length - a.length)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  secretPattern = new RegExp([...new Set(alternatives)].join('|'), 'g');
}

export function redactUrl(text: string): string {
  const out = text.replace(USERINFO, '$1***@');
  return secretPattern ? out.replace(secretPattern, '***') : out;
}

/** Names of fields whose values are secrets, at any depth (password, passwd, apiToken, secretAccessKey, cookie...). */
export const SECRET_FIELD =
  /^(pass|passwd|pwd|\w*password|\w*secret\w*|\w*token|credentials?|authorization|(set-)?cookie|private_?key|api_?key|session|csrf)$/i;
