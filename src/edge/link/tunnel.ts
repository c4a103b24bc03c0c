// The edge's WireGuard tunnel to its VM, from the pairing: brought up on demand by the connection loop (persistent
// keepalive 25 s, so NAT mappings stay open), reported when wireguard-go dies (the loop then brings it up again), and
// read for the handshake age and bytes the heartbeat reports.
import type { Logger } from '../../shared/log.ts';
import { WireGuardInterface } from '../../shared/wireguard/interface.ts';
import { readPrivateKey } from '../../shared/wireguard/keys.ts';
import type { LinkSettings } from './pairing.ts';

export interface TunnelStats {
  handshakeAgeSeconds: number | null;
  rxBytes: number | null;
  txBytes: number | null;
}

export interface EdgeTunnelOptions {
  peer: NonNullable<LinkSettings['tunnel']>;
  interfaceName: string;
  keyPath: string;
  log: Logger;
  /** wireguard-go died: the link is down until ensure() brings the tunnel up again. */
  onDown(err: Error): void;
}

export class EdgeTunnel {
  private iface: WireGuardInterface | undefined;
  private stopped = false;

  constructor(private readonly o: EdgeTunnelOptions) {}

  /** Brings the tunnel up unless it is up. */
  async ensure(): Promise<void> {
    if (this.iface || this.stopped) return;
    const { peer, log } = this.o;
    const iface = await WireGuardInterface.up({
      name: this.o.interfaceName,
      privateKey: readPrivateKey(this.o.keyPath),
      address: peer.edgeAddress,
      log,
      onExit: (exit) => {
        log.error({ code: exit.code, stderr: exit.stderr }, 'wireguard-go stopped; bringing the tunnel up again');
        if (this.iface === iface) this.iface = undefined;
        this.o.onDown(new Error('the WireGuard tunnel stopped'));
      },
    });
    try {
      await iface.setPeer({
        publicKey: peer.vmPublicKey,
        endpoint: peer.endpoint,
        allowedIps: [`${peer.vmAddress}/32`],
        persistentKeepalive: 25,
      });
    } catch (err) {
      await iface.down(); // not half a tunnel: the next attempt starts from nothing
      throw err;
    }
    if (this.stopped)
      await iface.down(); // down() ran while it came up
    else this.iface = iface;
  }

  /** The VM peer's last handshake and bytes; nulls while the tunnel is down. */
  async stats(): Promise<TunnelStats> {
    const peer = this.iface && (await this.iface.stats().catch(() => ({ peers: [] }))).peers[0];
    return {
      handshakeAgeSeconds: peer?.lastHandshakeAgeMs == null ? null : Math.round(peer.lastHandshakeAgeMs / 1000),
      rxBytes: peer?.rxBytes ?? null,
      txBytes: peer?.txBytes ?? null,
    };
  }

  /** Takes the tunnel down for good (a new pairing makes a new EdgeTunnel). */
  async down(): Promise<void> {
    this.stopped = true;
    const iface = this.iface;
    this.iface = undefined;
    await iface?.down();
  }
}
