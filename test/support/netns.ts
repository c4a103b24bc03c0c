// Two network namespaces joined by a veth pair, for tests of what crosses a network. Needs root and iproute2.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { ip, vethIntoNamespace } from '../../src/shared/netns.ts';

export interface NetnsPair {
  a: { ns: string; ip: string; dev: string };
  b: { ns: string; ip: string; dev: string };
  remove(): void;
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces (CI runs as root)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  return undefined;
}

export function createNetnsPair(subnet = 10 + Math.floor(Math.random() * 200)): NetnsPair {
  const id = randomBytes(3).toString('hex');
  const a = { ns: `gda-${id}`, ip: `10.231.${subnet}.1`, dev: `gva${id}` };
  const b = { ns: `gdb-${id}`, ip: `10.231.${subnet}.2`, dev: `gvb${id}` };
  const remove = () => {
    for (const n of [a.ns, b.ns]) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  };
  try {
    ip('netns', 'add', a.ns);
    ip('netns', 'add', b.ns);
    ip('link', 'add', a.dev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns);
    for (const side of [a, b]) {
      ip('-n', side.ns, 'link', 'set', 'lo', 'up');
      ip('-n', side.ns, 'addr', 'add', `${side.ip}/24`, 'dev', side.dev);
      ip('-n', side.ns, 'link', 'set', side.dev, 'up');
      // Multicast (WS-Discovery) leaves through the veth.
      ip('-n', side.ns, 'route', 'add', '224.0.0.0/4', 'dev', side.dev);
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { a, b, remove };
}

/**
 * A veth between this (the test's) namespace and `ns`, so the test reaches a server inside it the way its owner would
 * from outside. Removed with the namespace.
 */
export function linkFromHost(ns: string, subnet: number): { hostIp: string; nsIp: string } {
  const id = randomBytes(3).toString('hex');
  const [hostIp, nsIp] = [`10.232.${subnet}.1`, `10.232.${subnet}.2`];
  vethIntoNamespace(ns, { dev: `gho${id}`, cidr: `${hostIp}/24` }, { dev: `ghi${id}`, cidr: `${nsIp}/24` });
  return { hostIp, nsIp };
}
