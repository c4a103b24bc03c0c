// Credentials never leave a URL in text meant for people: rtsp://user:pass@host/x -> rtsp://***@host/x
// (bindings/ depends on nothing in src/; src/shared/redact.ts re-exports this for the app.)
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi;

export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@');
}
