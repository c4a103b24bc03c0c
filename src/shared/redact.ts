// The one redaction rule (rtsp://user:pass@host/x -> rtsp://***@host/x) lives in bindings/, which depends on nothing
// here; the app uses the same function.
export { addSecret, redactUrl, SECRET_FIELD } from '../../bindings/redact.ts';
