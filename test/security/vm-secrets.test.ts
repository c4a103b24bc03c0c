// Issue #20 on the owner's server (the VM): its API token was kept in clear (now only a SHA-256; the token is shown
// once), unused expired pairing codes lingered with their tokens (now deleted at start and every minute), and a
// pairing with an invalid WireGuard key was committed before the tunnel refused it, after which the VM could not start
// again (item 8: the key is validated in the request schema and the peer configured before the pairing is committed).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import Database from 'better-sqlite3';
import YAML from 'yaml';
import { decodePairingCode, pairingMac } from '../../src/shared/link/pairing-code.ts';
import { addNamespace, removeNamespace, vethIntoNamespace } from '../../src/shared/netns.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { wireGuardUnavailable } from '../../src/shared/wireguard/interface.ts';
import { generateKeyPair } from '../../src/shared/wireguard/keys.ts';
import { guardianCli, tempDir } from '../helpers.ts';
import { freePort, until } from '../support/vm_archive.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** `guardian vm --config FILE` as a child (optionally inside a network namespace), with everything it printed. */
class VmChild {
  proc: ChildProcess | undefined;
  output = '';
  constructor(
    private readonly configFile: string,
    private readonly netns?: string,
  ) {}

  /** Starts the VM and waits for "VM ready" (or, with `untilOutput`, only for its first output line). */
  async start(untilOutput = false): Promise<void> {
    this.output = '';
    const args = [join(projectRoot, 'bin', 'guardian.mjs'), 'vm', '--config', this.configFile];
    const proc = this.netns
      ? spawn('ip', ['netns', 'exec', this.netns, process.execPath, ...args], { cwd: projectRoot, env: this.env() })
      : spawn(process.execPath, args, { cwd: projectRoot, env: this.env() });
    this.proc = proc;
    const keep = (d: Buffer) => {
      this.output += d.toString();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const started = () => (untilOutput ? this.output.length > 0 : this.output.includes('VM ready'));
    await until(() => started() || proc.exitCode !== null, 30_000, `the VM:\n${this.output}`);
    if (proc.exitCode !== null) throw new Error(`the VM exited with ${proc.exitCode}:\n${this.output}`);
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, GUARDIAN_LOG_LEVEL: 'info', GUARDIAN_LOG_FORMAT: 'json' };
  }

  /** Sends `signal` and resolves with how the VM ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: string | null } | undefined> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
      proc.once('exit', (code, sig) => r({ code, signal: sig })),
    );
    proc.kill(signal);
    return exited;
  }
}

/** Every file under `root` whose bytes contain `secret`, except those named in `except`. */
function filesHolding(root: string, secret: string, except: string[] = []): string[] {
  const found: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else if (st.isFile() && !except.includes(p) && readFileSync(p).includes(Buffer.from(secret)))
      found.push(relative(root, p));
  };
  walk(root);
  return found;
}

const octalMode = (path: string) => (lstatSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** A POST /api/pair as an edge makes it, with a valid proof over whatever key is given. */
async function pairWith(code: string, publicKey: string | null) {
  const c = decodePairingCode(code);
  const request = {
    pairingId: c.pairingId,
    name: 'edge under test',
    publicKey,
    credentialHash: sha256(randomBytes(32).toString('base64url')),
  };
  const res = await fetch(new URL('/api/pair', c.pairUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, mac: pairingMac(c.token, request) }),
  });
  return { status: res.status, body: (await res.json()) as { edgeId?: string; error?: { message: string } } };
}

/** Keys of the old schema's shape (44 characters) that are not 32 bytes of base64. */
const invalidKeys = [`${'!'.repeat(43)}=`, `${'A'.repeat(42)}==`, `${'A'.repeat(43)}A`];

describe('VM secrets: the owner API token, pairing codes and WireGuard keys (issue #20)', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-vm-secrets-');
  const children: VmChild[] = [];
  after(async () => {
    for (const c of children) await c.stop();
    dir.remove();
  });

  /** A VM on loopback without a tunnel, with `api` and any other sections as given. */
  const loopbackVm = async (name: string, extra: Record<string, unknown> = {}) => {
    const dataDir = join(dir.path, name);
    const configFile = join(dir.path, `${name}.yaml`);
    let ports = { http: 0, grpc: 0 };
    let vm: VmChild | undefined;
    // A port freePort() found free can be taken by another test's connection before the VM binds it: try again.
    for (let attempt = 0; !vm; attempt++) {
      ports = { http: await freePort(), grpc: await freePort() };
      writeFileSync(
        configFile,
        YAML.stringify({
          dataDir,
          http: { port: ports.http },
          grpc: { port: ports.grpc, requireTunnel: false },
          wireguard: { enabled: false },
          ...extra,
        }),
      );
      const child = new VmChild(configFile);
      try {
        await child.start();
        vm = child;
        children.push(vm);
      } catch (err) {
        if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
        rmSync(dataDir, { recursive: true, force: true }); // a first run again: its token printed again
      }
    }
    const url = `http://127.0.0.1:${ports.http}`;
    const status = (token: string) =>
      fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    return { vm, url, dataDir, configFile, status };
  };

  it('issues the owner token once and keeps only its SHA-256: it works without the owner copy; `keys token` replaces it', async () => {
    const { vm, dataDir, configFile, status } = await loopbackVm('vm-token');
    const tokenFile = join(dataDir, 'api-token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(octalMode(tokenFile), '0600', "the owner's copy");
    const hashFile = join(dataDir, 'api-token.sha256');
    assert.equal(readFileSync(hashFile, 'utf8').trim(), sha256(token));
    assert.equal(octalMode(hashFile), '0600');
    assert.equal(await status(token), 200);
    assert.equal(await status(`${token}x`), 401);
    await vm.stop();
    assert.deepEqual(filesHolding(dataDir, token, [tokenFile]), [], 'only the owner copy holds the token');

    // The owner keeps the token elsewhere and deletes the file: the VM does not need it.
    rmSync(tokenFile);
    await vm.start();
    assert.equal(await status(token), 200, 'the same token, from its hash');
    assert.equal(existsSync(tokenFile), false, 'no new token was issued');

    // A new token: the old one stops working at once, without a restart.
    const issued = await guardianCli(['keys', 'token', '--config', configFile]);
    assert.equal(issued.code, 0, issued.stderr);
    const fresh = issued.stdout.trim();
    assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await status(fresh), 200);
    assert.equal(await status(token), 401);
    assert.equal(readFileSync(tokenFile, 'utf8').trim(), fresh, "the owner's copy is the new token");
    await vm.stop();
    assert.deepEqual(filesHolding(dataDir, fresh, [tokenFile]), []);
  });

  it('with api.tokenFile false the token is only printed once: no file of the data dir (the database included) holds it', async () => {
    const { vm, dataDir, status } = await loopbackVm('vm-printed', { api: { tokenFile: false } });
    const token = /The owner API token \(shown once[^\n]*\n\s*\n\s*(\S+)/.exec(vm.output)?.[1];
    assert.ok(token, vm.output);
    assert.equal(await status(token), 200);
    assert.equal(existsSync(join(dataDir, 'api-token')), false);
    await vm.stop();
    assert.deepEqual(filesHolding(dataDir, token), []);
    const db = readFileSync(join(dataDir, 'vm.db'));
    assert.equal(db.includes(Buffer.from(token)), false, 'the database holds no clear token');
    await vm.start();
    assert.doesNotMatch(vm.output, /shown once/, 'shown once only');
    assert.equal(await status(token), 200);
  });

  it('deletes unused expired pairing codes (and their tokens) at start', async () => {
    const apiToken = randomBytes(24).toString('base64url');
    const { vm, url, dataDir } = await loopbackVm('vm-pairings', {
      api: { token: apiToken },
      pairing: { validMinutes: 0.02 },
    });
    const issue = async () => {
      const res = await fetch(`${url}/api/pairings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'never used' }),
      });
      assert.equal(res.status, 201);
      return ((await res.json()) as { code: string }).code;
    };
    const codes = [await issue(), await issue(), await issue()];
    assert.equal((await pairWith(codes[2] as string, null)).status, 200, 'one is used');
    const tokens = codes.map((c) => decodePairingCode(c).token);
    await new Promise((r) => setTimeout(r, 1500)); // past their 1.2 s
    await vm.stop();
    const count = () => {
      const db = new Database(join(dataDir, 'vm.db'), { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM pairings WHERE used_at IS NULL').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    assert.equal(count(), 2, 'two unused codes, expired');
    // Killed right after they are deleted (a CI run once caught a SIGTERM before the VM handled it): the deleted
    // tokens must already be gone from the database file, not only from the WAL, which a clean close checkpoints.
    await vm.start();
    assert.equal((await vm.stop('SIGKILL'))?.signal, 'SIGKILL');
    assert.equal(count(), 0, 'gone at start');
    for (const t of tokens) assert.deepEqual(filesHolding(dataDir, t), [], 'no pairing token is left in any file');
  });

  it('a SIGTERM during start-up stops the VM cleanly once it has started (the database closed, no WAL left)', async () => {
    const { vm, dataDir, configFile } = await loopbackVm('vm-early-stop');
    await vm.stop();
    // A start stopped as soon as it prints anything: a config file others can read makes it say so first thing,
    // before the database is open. Before, the signal's default action killed it there.
    chmodSync(configFile, 0o644);
    await vm.start(true);
    assert.match(vm.output, /accessible by other users/);
    const ended = await vm.stop();
    assert.deepEqual(ended, { code: 0, signal: null }, vm.output);
    assert.equal(existsSync(join(dataDir, 'vm.db-wal')), false, 'closed: the WAL was checkpointed and removed');
  });

  it('a pairing with an invalid WireGuard key is refused with 400 before anything is stored', async () => {
    const apiToken = randomBytes(24).toString('base64url');
    const { vm, url, dataDir } = await loopbackVm('vm-badkey', { api: { token: apiToken } });
    const res = await fetch(`${url}/api/pairings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const { code } = (await res.json()) as { code: string };
    for (const key of invalidKeys) {
      const r = await pairWith(code, key);
      assert.equal(r.status, 400, `${key}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), /publicKey/);
    }
    assert.equal((await pairWith(code, null)).status, 200, 'the code is still good (no tunnel: no key needed)');
    await vm.stop();
    const db = new Database(join(dataDir, 'vm.db'), { readonly: true });
    assert.deepEqual(db.prepare('SELECT wireguard_public_key FROM edges').pluck().all(), [null]);
    db.close();
  });

  describe('through WireGuard', () => {
    const skipReason =
      (process.getuid?.() !== 0 ? 'needs root (network namespace, WireGuard interface)' : undefined) ??
      wireGuardUnavailable();
    const tag = randomBytes(3).toString('hex');
    const ns = `gsec-${tag}`;
    const hostDev = `gsh${tag}`;
    const subnet = 20 + Math.floor(Math.random() * 200);
    const nsIp = `10.234.${subnet}.2`;
    const iface = `gsv${tag}`;
    const apiToken = randomBytes(24).toString('base64url');
    const url = `http://${nsIp}:8600`;
    let vm: VmChild;
    const peers = () =>
      spawnSync('ip', ['netns', 'exec', ns, 'wg', 'show', iface, 'peers'], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
    const issue = async () => {
      const res = await fetch(`${url}/api/pairings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 201, await res.clone().text());
      return ((await res.json()) as { code: string }).code;
    };

    before(async function () {
      if (skipReason) {
        console.log(`      skipped: ${skipReason}`);
        this.skip();
      }
      addNamespace(ns);
      vethIntoNamespace(ns, { dev: hostDev, cidr: `10.234.${subnet}.1/24` }, { dev: `gsn${tag}`, cidr: `${nsIp}/24` });
      const configFile = join(dir.path, 'vm-tunnel.yaml');
      writeFileSync(
        configFile,
        YAML.stringify({
          dataDir: join(dir.path, 'vm-tunnel'),
          http: { host: nsIp, port: 8600 },
          api: { token: apiToken },
          grpc: { port: 50051 },
          wireguard: { interface: iface, address: `10.79.${subnet}.1/24`, endpoint: `${nsIp}:51820` },
        }),
      );
      vm = new VmChild(configFile, ns);
      children.push(vm);
      await vm.start();
    });
    after(async () => {
      await vm?.stop();
      removeNamespace(ns, hostDev);
    });

    it('an invalid key gets 400, the VM restarts fine; a valid key is a peer before the edge dials', async () => {
      const code = await issue();
      for (const key of invalidKeys) assert.equal((await pairWith(code, key)).status, 400, key);
      assert.equal((await pairWith(code, null)).status, 403, 'a tunnel pairing needs a key');
      assert.deepEqual(peers(), []);
      await vm.stop();
      await vm.start();
      const { publicKey } = generateKeyPair();
      const ok = await pairWith(code, publicKey);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(peers(), [publicKey]);
      await vm.stop();
      await vm.start();
      assert.deepEqual(peers(), [publicKey], 'and again after a restart');
    });

    it('an invalid key stored before keys were validated does not keep the VM (or the other peers) from starting', async () => {
      await vm.stop();
      const db = new Database(join(dir.path, 'vm-tunnel', 'vm.db'));
      db.prepare(
        `INSERT INTO edges (edge_id, name, wireguard_public_key, credential_hash, tunnel_address, created_at, updated_at)
         VALUES ('edge-bad', 'bad', ?, ?, '10.79.${subnet}.9/24', 0, 0)`,
      ).run(invalidKeys[0], sha256('x'));
      db.close();
      await vm.start();
      assert.match(
        vm.output,
        /edge-bad.*refused this edge's WireGuard key|refused this edge's WireGuard key.*edge-bad/,
      );
      assert.equal(peers().length, 1, 'the good peer is configured');
      const health = await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${apiToken}` } });
      assert.equal(health.status, 200);
    });
  });
});
