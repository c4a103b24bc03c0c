// The demo's own server (the user VM), paired with the demo edge. By default it runs in this process on loopback,
// without a tunnel. With `--tunnel` (root) it runs as `guardian vm` in a network namespace of its own, joined to this
// one by a veth, and the edge reaches it through WireGuard exactly as it would reach a remote server.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import YAML from 'yaml';

import { pairEdge, readLinkSettings, writeLinkSettings } from '../edge/link/pairing.ts';
import type { Logger } from '../shared/log.ts';
import { addNamespace, removeNamespace, vethIntoNamespace } from '../shared/netns.ts';
import { projectRoot } from '../shared/paths.ts';
import { wireGuardUnavailable } from '../shared/wireguard/interface.ts';
import { apiTokenFile, issueApiToken } from '../vm/api-token.ts';
import { validateVmConfig } from '../vm/config.ts';
import { startVm } from '../vm/runtime.ts';

export interface DemoVm {
  url: string;
  tokenFile: string;
  /** The WireGuard interface the edge must use, when there is a tunnel. */
  edgeInterface: string | null;
  stop(): Promise<void>;
}

export async function startLoopbackDemoVm(dataDir: string, port: number, log: Logger): Promise<DemoVm> {
  const config = validateVmConfig({
    dataDir: join(dataDir, 'vm'),
    http: { host: '127.0.0.1', port },
    // The VM keeps only the token's hash; the demo's owner gets the token in this file (0600).
    api: { tokenFile: join(dataDir, 'vm', 'api-token') },
    grpc: { host: '127.0.0.1', port: 0, requireTunnel: false },
    wireguard: { enabled: false },
  });
  const vm = await startVm(config, { log });
  // The owner's copy was deleted: the demo's owner gets a new token (the running VM accepts it at once).
  if (!vm.apiToken) issueApiToken(config);
  const paired = readLinkSettings(dataDir);
  if (paired && !paired.tunnel && vm.cache.edges().some((e) => e.edgeId === paired.edgeId))
    writeLinkSettings(dataDir, { ...paired, grpc: vm.grpcAddress }); // the VM's port changes between runs
  else await pairEdge(vm.issuePairing('demo edge').code, dataDir, { name: 'demo edge' });
  return { url: vm.url, tokenFile: apiTokenFile(config) as string, edgeInterface: null, stop: () => vm.stop() };
}

export async function startTunnelDemoVm(dataDir: string, log: Logger): Promise<DemoVm> {
  const why =
    (process.getuid?.() !== 0 ? 'needs root (it creates a network namespace and WireGuard interfaces)' : undefined) ??
    wireGuardUnavailable();
  if (why) throw new Error(`--tunnel ${why}`);
  // Names and addresses derived from the data dir: two demos in two dirs do not collide.
  const h = createHash('sha256').update(dataDir).digest();
  const tag = h.toString('hex').slice(0, 6);
  const subnet = 16 + ((h[3] as number) % 200);
  const ns = `gdemo-${tag}`;
  const vmIp = `10.233.${subnet}.2`;
  const names = { hostDev: `gdh${tag}`, nsDev: `gdn${tag}`, vmWg: `gdv${tag}`, edgeWg: `gde${tag}` };
  const cleanUp = () => removeNamespace(ns, names.hostDev);
  cleanUp(); // left over from a demo that was killed
  addNamespace(ns);
  let vm: ChildProcess | undefined;
  try {
    vethIntoNamespace(
      ns,
      { dev: names.hostDev, cidr: `10.233.${subnet}.1/24` },
      { dev: names.nsDev, cidr: `${vmIp}/24` },
    );

    const vmDir = join(dataDir, 'vm-tunnel');
    const configFile = join(dataDir, 'vm-tunnel.yaml');
    const tokenFile = join(vmDir, 'api-token');
    writeFileSync(
      configFile,
      YAML.stringify({
        dataDir: vmDir,
        http: { host: vmIp, port: 8600 },
        api: { tokenFile }, // the VM keeps only the token's hash
        grpc: { port: 50051 },
        wireguard: {
          interface: names.vmWg,
          address: `10.77.${subnet}.1/24`,
          listenPort: 51820,
          endpoint: `${vmIp}:51820`,
        },
      }),
    );
    vm = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, join(projectRoot, 'bin', 'guardian.mjs'), 'vm', '--config', configFile],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const url = `http://${vmIp}:8600`;
    for (let i = 0; ; i++) {
      if (
        await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 150 || vm.exitCode !== null) throw new Error('the demo VM did not start (see its log above)');
      await new Promise((r) => setTimeout(r, 200));
    }
    const token = readFileSync(tokenFile, 'utf8').trim();
    const paired = readLinkSettings(dataDir);
    const known =
      paired?.tunnel &&
      existsSync(tokenFile) &&
      (await fetch(`${url}/api/edges`, { headers: { Authorization: `Bearer ${token}` } })
        .then((r) => r.json() as Promise<{ edges: { edgeId: string }[] }>)
        .then(
          (b) => b.edges.some((e) => e.edgeId === paired.edgeId),
          () => false,
        ));
    if (!known) {
      const res = await fetch(`${url}/api/pairings`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'demo edge' }),
      });
      if (!res.ok) throw new Error(`the demo VM refused to issue a pairing code (HTTP ${res.status})`);
      await pairEdge(((await res.json()) as { code: string }).code, dataDir, { name: 'demo edge' });
    }
    log.info({ namespace: ns, vm: url }, 'demo VM running in its own network namespace, linked through WireGuard');
    const child = vm;
    return {
      url,
      tokenFile,
      edgeInterface: names.edgeWg,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        }
        cleanUp();
      },
    };
  } catch (err) {
    vm?.kill('SIGKILL');
    cleanUp();
    throw err;
  }
}
