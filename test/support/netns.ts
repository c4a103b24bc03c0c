// Two network namespaces joined by a veth pair, for tests of what crosses a network. Needs root and iproute2.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

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

function ip(...args: string[]) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const host = { dev: `gho${id}`, ip: `10.232.${subnet}.1` };
  const inside = { dev: `ghi${id}`, ip: `10.232.${subnet}.2` };
  ip('link', 'add', host.dev, 'type', 'veth', 'peer', 'name', inside.dev, 'netns', ns);
  ip('addr', 'add', `${host.ip}/24`, 'dev', host.dev);
  ip('link', 'set', host.dev, 'up');
  ip('-n', ns, 'addr', 'add', `${inside.ip}/24`, 'dev', inside.dev);
  ip('-n', ns, 'link', 'set', inside.dev, 'up');
  return { hostIp: host.ip, nsIp: inside.ip };
}
