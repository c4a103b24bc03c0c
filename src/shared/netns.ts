// Network namespaces joined to this one by a veth (iproute2; needs root): the demo's server "elsewhere"
// (`guardian demo --tunnel`), and the tests and benchmarks of what crosses a network.
import { execFileSync, spawnSync } from 'node:child_process';

export const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A namespace with its loopback up. */
export function addNamespace(ns: string): void {
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
}

/** Removes a namespace (and the host end of its veth, which could otherwise linger while sockets in it close). */
export function removeNamespace(ns: string, hostDev?: string): void {
  if (hostDev) spawnSync('ip', ['link', 'del', hostDev], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** A veth from this namespace into `ns`, each end with its address (CIDR) and up. */
export function vethIntoNamespace(
  ns: string,
  host: { dev: string; cidr: string },
  inside: { dev: string; cidr: string },
): void {
  ip('link', 'add', host.dev, 'type', 'veth', 'peer', 'name', inside.dev, 'netns', ns);
  ip('addr', 'add', host.cidr, 'dev', host.dev);
  ip('link', 'set', host.dev, 'up');
  ip('-n', ns, 'addr', 'add', inside.cidr, 'dev', inside.dev);
  ip('-n', ns, 'link', 'set', inside.dev, 'up');
}
