// Channel secrets, one 0600 file each in <dataDir>/alerts/ (0700): the webhook's signing key and the VAPID keys are
// made here on first use; the SMTP password and the ntfy and MQTT tokens are set by the owner through the API. They
// are never in the configuration (which the API shows), in logs, or on a command line.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateVapidKeys, type VapidKeys } from '../../shared/alerts/webpush.ts';
import { PRIVATE_DIR_MODE, writePrivateFile } from '../../shared/fs-perms.ts';

/** The secrets the owner sets; the file names are fixed here, never taken from a request. */
export const SETTABLE_SECRETS = { email: 'email.password', ntfy: 'ntfy.token', mqtt: 'mqtt.password' } as const;
export type SettableSecret = keyof typeof SETTABLE_SECRETS;

export class AlertSecrets {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'alerts');
  }

  private read(name: string): string | null {
    const file = join(this.dir, name);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
  }

  private write(name: string, value: string): void {
    mkdirSync(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    writePrivateFile(join(this.dir, name), `${value}\n`);
  }

  get(which: SettableSecret): string | null {
    return this.read(SETTABLE_SECRETS[which]);
  }

  /** Sets (or, with null, removes) a secret. */
  set(which: SettableSecret, value: string | null): void {
    if (value === null) rmSync(join(this.dir, SETTABLE_SECRETS[which]), { force: true });
    else this.write(SETTABLE_SECRETS[which], value);
  }

  /** The webhook's HMAC key, made on first use; receivers verify the signature with the same file's content. */
  webhookSecret(): string {
    const have = this.read('webhook.secret');
    if (have) return have;
    const made = randomBytes(32).toString('base64url');
    this.write('webhook.secret', made);
    return made;
  }

  get webhookSecretFile(): string {
    return join(this.dir, 'webhook.secret');
  }

  /** This edge's VAPID key pair for Web Push, made on first use (browsers subscribe to its public key). */
  vapidKeys(): VapidKeys {
    const have = this.read('vapid.json');
    if (have) return JSON.parse(have) as VapidKeys;
    const made = generateVapidKeys();
    this.write('vapid.json', JSON.stringify(made));
    return made;
  }
}
