// Certificates from an ACME CA (Let's Encrypt or any RFC 8555 server) for an owner whose domain names the appliance,
// so browsers trust the local UI without an exception. The self-signed certificate is served until the first one is
// issued and whenever the CA cannot be reached; a certificate is renewed when a third of its lifetime is left and
// swapped into the running server (no restart). Challenges: http-01 (the CA fetches a token over plain HTTP on
// `challengePort`, 80 by default, which the router forwards to the appliance) or dns-01 through an owner's hook
// script (`hook add|remove <record name> <value>`), for an appliance nobody outside can reach, the usual case.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

import acme from 'acme-client';
import type { Logger } from 'pino';

import type { AcmeStatus } from '../../shared/api-types.ts';
import type { Config } from '../../shared/config.ts';
import type { TlsMaterial } from './tls.ts';

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

type AcmeSettings = NonNullable<Config['http']['tls']['acme']>;

/** http-01 answers waiting for the CA, by token; read by the plain-HTTP side of the UI's listener. */
export class AcmeChallenges {
  private readonly answers = new Map<string, string>();
  private static readonly PREFIX = '/.well-known/acme-challenge/';
  set(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.answers.delete(token);
  }
  /** The key authorization for a challenge URL, or undefined for any other path or an unknown token. */
  answer(url: string | undefined): string | undefined {
    if (!url?.startsWith(AcmeChallenges.PREFIX)) return undefined;
    return this.answers.get(url.slice(AcmeChallenges.PREFIX.length));
  }
}

// One quick retry of a failed request inside an order (the library's default is five over 75 s); the order itself is
// retried by the schedule below.
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 1;

/**
 * The directory fetched first with Node's own client, so an unreachable or untrusted CA is reported as such:
 * acme-client 5.4 turns a request that got no response into "Cannot read properties of undefined".
 */
function checkDirectory(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { timeout: 15_000, headers: { 'user-agent': 'guardian-edge (acme)' } }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`the ACME directory ${url} answered HTTP ${res.statusCode}`));
    });
    req.once('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.once('error', (err) => reject(new Error(`cannot reach the ACME directory ${url}: ${err.message}`)));
  });
}

const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 6 * 3_600_000;
const CHECK_MAX_MS = 12 * 3_600_000;

export class AcmeCertificates {
  readonly challenges = new AcmeChallenges();
  private readonly dir: string;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private current: { notBefore: number; notAfter: number } | undefined;
  private lastError: string | null = null;
  private nextMs: number | null = null;
  private ordering: Promise<void> | undefined;
  private stopped = false;
  private uiPort = 0;

  constructor(
    private readonly settings: AcmeSettings & { domain: string },
    private readonly o: {
      dataDir: string;
      host: string;
      log: Logger;
      /** A new certificate to serve (first issue and every renewal). */
      onCertificate(m: TlsMaterial): void;
    },
  ) {
    this.dir = join(o.dataDir, 'tls', 'acme');
  }

  /** A stored certificate for this domain that has not expired, to serve from the start. */
  stored(): TlsMaterial | undefined {
    const certPath = join(this.dir, 'cert.pem');
    const keyPath = join(this.dir, 'key.pem');
    if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
    try {
      const cert = readFileSync(certPath, 'utf8');
      const x = new X509Certificate(cert);
      if (!x.checkHost(this.settings.domain) || Date.parse(x.validTo) <= Date.now()) return undefined;
      this.current = { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
      return { cert, key: readFileSync(keyPath, 'utf8'), fingerprint: x.fingerprint256, created: false };
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'the stored ACME certificate cannot be read; ordering a new one');
      return undefined;
    }
  }

  /** Orders now when nothing valid is held, else waits for the renewal time. `uiPort`: where the UI listens. */
  start(uiPort: number): void {
    this.uiPort = uiPort;
    this.schedule(this.current ? this.renewAt() - Date.now() : 0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  status(): AcmeStatus {
    return {
      domain: this.settings.domain,
      state: this.current ? 'issued' : this.lastError ? 'failed' : 'pending',
      notAfter: this.current ? new Date(this.current.notAfter).toISOString() : null,
      lastError: this.lastError,
      nextMs: this.nextMs,
    };
  }

  /** Renewal when a third of the lifetime is left (60 of 90 days for Let's Encrypt). */
  private renewAt(): number {
    const c = this.current;
    return c ? c.notAfter - (c.notAfter - c.notBefore) / 3 : Date.now();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wait = Math.min(Math.max(0, delayMs), CHECK_MAX_MS); // long waits are re-checked, not trusted to a timer
    this.nextMs = Date.now() + wait;
    this.timer = setTimeout(() => {
      if (Date.now() < this.renewAt()) return this.schedule(this.renewAt() - Date.now());
      this.ordering ??= this.order().finally(() => {
        this.ordering = undefined;
      });
    }, wait);
    this.timer.unref();
  }

  private async order(): Promise<void> {
    const { domain } = this.settings;
    const log = this.o.log;
    log.info({ domain, directory: this.settings.directoryUrl }, 'ordering a certificate from the ACME CA');
    let challengeServer: Server | undefined;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      await checkDirectory(this.settings.directoryUrl);
      // The account made at the first order is reused (its URL kept beside its key): renewals do not register again.
      const accountUrlFile = join(this.dir, 'account.url');
      const accountUrl = existsSync(accountUrlFile) ? readFileSync(accountUrlFile, 'utf8').trim() : undefined;
      const client = new acme.Client({
        directoryUrl: this.settings.directoryUrl,
        accountKey: await this.accountKey(),
        ...(accountUrl?.startsWith('https://') ? { accountUrl } : {}),
      });
      const key = await acme.crypto.createPrivateEcdsaKey('P-256');
      const [, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, key);
      if (this.settings.challenge === 'http-01' && this.settings.challengePort !== this.uiPort)
        challengeServer = await this.listenForChallenges();
      const cert = await client.auto({
        csr,
        email: this.settings.email,
        termsOfServiceAgreed: true,
        challengePriority: [this.settings.challenge],
        skipChallengeVerification: true, // the CA checks; a self-check cannot see through the owner's router
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type === 'http-01') this.challenges.set(challenge.token, keyAuthorization);
          else await this.dnsHook('add', `_acme-challenge.${domain}`, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type === 'http-01') this.challenges.delete(challenge.token);
          else await this.dnsHook('remove', `_acme-challenge.${domain}`, keyAuthorization).catch(() => undefined);
        },
      });
      writeFileSync(accountUrlFile, `${client.getAccountUrl()}\n`, { mode: 0o600 });
      writeFileSync(accountUrlFile, `${client.getAccountUrl()}\n`, { mode: 0o600 });
      const x = new X509Certificate(cert);
      if (!x.checkHost(domain)) throw new Error(`the CA's certificate does not name ${domain}`);
      // Written aside, then renamed: a crash never leaves a certificate without its key.
      writeFileSync(join(this.dir, 'key.pem.new'), key, { mode: 0o600 });
      writeFileSync(join(this.dir, 'cert.pem.new'), cert, { mode: 0o600 });
      renameSync(join(this.dir, 'key.pem.new'), join(this.dir, 'key.pem'));
      renameSync(join(this.dir, 'cert.pem.new'), join(this.dir, 'cert.pem'));
      this.current = { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
      this.failures = 0;
      this.lastError = null;
      this.o.onCertificate({ cert, key: key.toString(), fingerprint: x.fingerprint256, created: true });
      log.info({ domain, notAfter: x.validTo, fingerprint: x.fingerprint256 }, 'ACME certificate issued and served');
      this.schedule(this.renewAt() - Date.now());
    } catch (err) {
      this.lastError = errorMessage(err);
      const retry = Math.min(RETRY_FIRST_MS * 2 ** this.failures++, RETRY_MAX_MS);
      log.warn(
        { domain, err: this.lastError, retryInSeconds: retry / 1000 },
        'ACME order failed; the current certificate stays',
      );
      this.schedule(retry);
    } finally {
      await new Promise((r) => (challengeServer ? challengeServer.close(r) : r(undefined)));
    }
  }

  private async accountKey(): Promise<Buffer> {
    const file = join(this.dir, 'account.key');
    if (existsSync(file)) return readFileSync(file);
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    writeFileSync(file, key, { mode: 0o600 });
    return key;
  }

  /** A listener on the challenge port for the time of one order: challenge answers only, nothing else. */
  private listenForChallenges(): Promise<Server> {
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) => {
      const answer = this.challenges.answer(req.url);
      if (answer) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
      else res.writeHead(404).end();
    });
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`cannot listen for ACME http-01 on port ${this.settings.challengePort}: ${err.message}`)),
      );
      server.listen(this.settings.challengePort, this.o.host, () => resolve(server));
    });
  }

  private async dnsHook(action: 'add' | 'remove', name: string, keyAuthorization: string): Promise<void> {
    const hook = this.settings.dnsHook;
    if (!hook) throw new Error('dns-01 needs http.tls.acme.dnsHook');
    // acme-client hands dns-01 the TXT value itself (the key authorization's digest); arguments, not a shell line.
    await promisify(execFile)(hook, [action, name, keyAuthorization], { timeout: 120_000 });
  }
}
