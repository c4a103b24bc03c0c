import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  generateKeyPair,
  isWireGuardKey,
  loadOrCreateKeyPair,
  publicKeyOf,
  readPrivateKey,
  writePrivateKey,
} from '../../src/shared/wireguard/keys.ts';
import { tempDir } from '../helpers.ts';

describe('WireGuard keys', () => {
  it('are 32-byte X25519 keys in 44-character base64', () => {
    const { privateKey, publicKey } = generateKeyPair();
    for (const k of [privateKey, publicKey]) {
      assert.ok(isWireGuardKey(k), k);
      assert.equal(Buffer.from(k, 'base64').length, 32);
    }
    assert.equal(publicKeyOf(privateKey), publicKey);
    assert.notEqual(generateKeyPair().privateKey, privateKey);
    assert.ok(!isWireGuardKey(Buffer.alloc(31).toString('base64')));
    assert.ok(!isWireGuardKey(`${publicKey.slice(0, 42)}B=`), 'non-canonical padding bits');
    assert.ok(!isWireGuardKey(publicKey.replace(/=$/, '')));
  });

  it('derive the same public key as `wg pubkey`', function () {
    if (spawnSync('wg', ['--version']).status !== 0) {
      console.log('      skipped: wg (wireguard-tools) is not installed');
      this.skip();
    }
    for (let i = 0; i < 5; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      assert.equal(execFileSync('wg', ['pubkey'], { input: `${privateKey}\n`, encoding: 'utf8' }).trim(), publicKey);
      // And the other way: a key made by wg (clamped by wg genkey) gives wg's public key.
      const wgKey = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
      const wgPub = execFileSync('wg', ['pubkey'], { input: `${wgKey}\n`, encoding: 'utf8' }).trim();
      assert.equal(publicKeyOf(wgKey), wgPub);
    }
  });

  it('are written 0600 in a 0700 directory and read back', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'wg', 'private.key');
      const { privateKey, publicKey } = loadOrCreateKeyPair(path);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir.path, 'wg')).mode & 0o777, 0o700);
      assert.equal(readPrivateKey(path), privateKey);
      assert.deepEqual(loadOrCreateKeyPair(path), { privateKey, publicKey });
      const next = generateKeyPair().privateKey;
      writePrivateKey(path, next);
      assert.equal(readPrivateKey(path), next);
      assert.throws(() => writePrivateKey(path, 'not a key'), /not a WireGuard private key/);
      assert.equal(readPrivateKey(path), next);
    } finally {
      dir.remove();
    }
  });

  it('refuse a key file that group or others can read, without showing the key', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'private.key');
      const { privateKey } = generateKeyPair();
      writeFileSync(path, `${privateKey}\n`);
      chmodSync(path, 0o644);
      assert.throws(
        () => readPrivateKey(path),
        (e: Error) => /mode 0644.*chmod 600/.test(e.message) && !e.message.includes(privateKey),
      );
      assert.throws(() => loadOrCreateKeyPair(path), /mode 0644/);
      chmodSync(path, 0o600);
      writeFileSync(path, 'garbage\n');
      assert.throws(() => readPrivateKey(path), /does not hold a WireGuard private key/);
    } finally {
      dir.remove();
    }
  });
});
