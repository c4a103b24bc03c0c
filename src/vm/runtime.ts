// The user VM service: its database, WireGuard interface with one peer per paired edge, the gRPC link server the
// edges dial through their tunnels, the encrypted archive (object store, index, quota and retention), and the
// owner's HTTP API (events, edges, telemetry, clip relay, archive, pairing).
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';

import { backoffDelay } from '../shared/backoff.ts';
import { type Db, openDatabase } from '../shared/db.ts';
import { GuardianError } from '../shared/errors.ts';
import { restrictUmask, secureDataDir } from '../shared/fs-perms.ts';
import { encodePairingCode } from '../shared/link/pairing-code.ts';
import type { Logger } from '../shared/log.ts';
import { projectRoot } from '../shared/paths.ts';
import { WireGuardInterface } from '../shared/wireguard/interface.ts';
import { loadOrCreateKeyPair } from '../shared/wireguard/keys.ts';
import { SilentEdgeWatch, vmAlertChannels } from './alerts.ts';
import { ownerApiToken } from './api-token.ts';
import { ArchiveService } from './archive/service.ts';
import { FsObjectStore, type ObjectStore, S3ObjectStore } from './archive/store.ts';
import { VmCache } from './cache/cache.ts';
import { vmMigrations } from './cache/schema.ts';
import type { VmConfig } from './config.ts';
import { createVmApp } from './http.ts';
import { LinkServer } from './link-server.ts';
import { ModelCatalog } from './models/catalog.ts';
import { VmDatasets } from './models/datasets.ts';
import { ModelDeployments } from './models/deploy.ts';
import { TrainingQueue } from './models/training.ts';
import { checkPairing, completePairing, deleteExpiredPairings, issuePairing, pairedEdges } from './pairing.ts';

const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** A dead wireguard-go is replaced after 1 s, then 2, 4, ... up to 30 s between attempts. */
const tunnelRestartBackoff = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export interface Vm {
  url: string;
  grpcAddress: string;
  /** The owner's API token when this process knows it (configured, issued now, or the owner's copy); else ''. */
  apiToken: string;
  /** A token issued at this start, to show once (and where it was written for the owner, if anywhere). */
  apiTokenIssued: { token: string; file: string | null } | null;
  cache: VmCache;
  link: LinkServer;
  archive: ArchiveService;
  db: Db;
  /** Edges gone silent, alerted through alerts.webhook / alerts.ntfy. */
  silentEdges: SilentEdgeWatch;
  models: { datasets: VmDatasets; catalog: ModelCatalog; training: TrainingQueue; deployments: ModelDeployments };
  issuePairing(name?: string): { code: string; edgeId: string; expiresAt: number };
  stop(): Promise<void>;
}

export const vmDatabasePath = (config: VmConfig) => join(config.dataDir, 'vm.db');
export const vmKeyPath = (config: VmConfig) => join(config.dataDir, 'wireguard.key');

/** The archive's object store: the filesystem under dataDir/archive, or the configured S3 API. */
export function archiveStore(config: VmConfig, log: Logger): ObjectStore {
  const s3 = config.archive.s3;
  if (config.archive.store !== 's3' || !s3) return new FsObjectStore(join(config.dataDir, 'archive'));
  let secretAccessKey = s3.secretAccessKey;
  if (s3.secretAccessKeyFile) {
    if (statSync(s3.secretAccessKeyFile).mode & 0o077)
      log.warn({ file: s3.secretAccessKeyFile }, 'the S3 secret key file is readable by others (chmod 600 it)');
    secretAccessKey = readFileSync(s3.secretAccessKeyFile, 'utf8').trim();
  }
  return new S3ObjectStore({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: secretAccessKey ?? '',
    forcePathStyle: s3.forcePathStyle,
  });
}

/** Issues a one-time pairing code; works with the service running or not (it only needs the database). */
export function issueVmPairing(
  db: Db,
  config: VmConfig,
  ports: { http: number; grpc: number },
  name?: string,
): { code: string; edgeId: string; expiresAt: number } {
  const tunnel = config.wireguard.enabled;
  if (tunnel && !config.wireguard.endpoint)
    throw new Error('wireguard.endpoint (the public host:port edges dial) must be set to pair through the tunnel');
  const httpHost = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  const { code, edgeId, expiresAt } = issuePairing(db, {
    ...(name ? { name } : {}),
    validMinutes: config.pairing.validMinutes,
    pairUrl: config.http.publicUrl ?? `${config.http.tls ? 'https' : 'http'}://${httpHost}:${ports.http}`,
    grpcPort: ports.grpc,
    grpcHostWithoutTunnel: config.grpc.host === '0.0.0.0' ? httpHost : config.grpc.host,
    tunnel: tunnel
      ? {
          vmPublicKey: loadOrCreateKeyPair(vmKeyPath(config)).publicKey,
          endpoint: config.wireguard.endpoint as string,
          vmCidr: config.wireguard.address,
        }
      : null,
  });
  return { code: encodePairingCode(code), edgeId, expiresAt };
}

export interface VmOptions {
  log: Logger;
  /** The configuration file, checked like the data dir (it may hold the API token or S3 keys). */
  configPath?: string;
}

export async function startVm(config: VmConfig, options: VmOptions): Promise<Vm> {
  const { log } = options;
  // The database (edges' credential hashes, pairing tokens), the WireGuard key and the archive are this user's only.
  restrictUmask();
  secureDataDir(config.dataDir, {
    log,
    files: [
      ...(options.configPath ? [{ path: options.configPath, fix: true }] : []),
      ...(config.http.tls ? [{ path: config.http.tls.key, fix: false }] : []),
    ],
  });
  const db = openDatabase(vmDatabasePath(config), vmMigrations);
  // Acknowledgements (events, archive objects) promise durability: each commit is synced, not only on checkpoints.
  db.pragma('synchronous = FULL');
  // What is deleted (expired pairing codes and their tokens, expired events) is overwritten, not left in free pages.
  db.pragma('secure_delete = ON');
  // Unused codes past their time go (their tokens with them): at start, then every minute.
  deleteExpiredPairings(db);
  const cache = new VmCache(db);
  const archiveLog = log.child({ component: 'archive' });
  const archive = new ArchiveService(db, archiveStore(config, archiveLog), cache, {
    quotaBytesPerCamera: config.archive.quotaBytesPerCamera,
    retentionDays: config.archive.retentionDays,
    log: archiveLog,
  });
  // Before any upload is accepted: what a crash interrupted (temporary files, multipart uploads, deletions) goes.
  // A store that cannot be reached is not fatal: uploads fail (and are retried by the edges) until it can.
  await archive.start().catch((err: Error) => {
    archiveLog.error({ error: err.message, store: config.archive.store }, 'the archive store is not reachable');
  });
  const owner = ownerApiToken(config, log);
  if (owner.issued)
    log.info(
      { file: owner.file },
      owner.file
        ? 'issued the owner API token, written for you (0600); the VM keeps only its hash'
        : 'issued the owner API token (shown once on the console); the VM keeps only its hash',
    );

  let tunnel: WireGuardInterface | undefined;
  const tunnelIp = config.wireguard.address.split('/')[0] as string;
  const peerOf = (e: { publicKey: string | null; tunnelAddress: string | null }) =>
    e.publicKey && e.tunnelAddress
      ? { publicKey: e.publicKey, allowedIps: [`${e.tunnelAddress.split('/')[0]}/32`] }
      : undefined;
  let stopping = false;
  // The VM's interface with one peer per paired edge; if wireguard-go dies it is brought up again (with backoff).
  const bringUpTunnel = async (): Promise<WireGuardInterface> => {
    const iface = await WireGuardInterface.up({
      name: config.wireguard.interface,
      privateKey: loadOrCreateKeyPair(vmKeyPath(config)).privateKey,
      address: config.wireguard.address,
      listenPort: config.wireguard.listenPort,
      log: log.child({ component: 'wireguard' }),
      onExit: (exit) => {
        log.error({ code: exit.code, stderr: exit.stderr }, 'wireguard-go stopped; bringing the tunnel up again');
        tunnel = undefined;
        void restartTunnel();
      },
    });
    for (const e of pairedEdges(db)) {
      const peer = peerOf(e);
      // One peer the tunnel refuses (a key stored before keys were validated) must not keep the others out.
      if (peer)
        await iface.setPeer(peer).catch((err: Error) => {
          log.error(
            { edge: e.edgeId, error: err.message },
            "the tunnel refused this edge's WireGuard key; it cannot connect",
          );
        });
    }
    return iface;
  };
  const restartTunnel = async (): Promise<void> => {
    for (let attempt = 0; !stopping && !tunnel; attempt++) {
      await sleep(backoffDelay(attempt, tunnelRestartBackoff));
      if (stopping) return;
      const iface = await bringUpTunnel().catch((err: Error) => {
        log.error({ error: err.message }, 'the tunnel could not be brought up; retrying');
        return undefined;
      });
      // Stopped meanwhile: stop() has already taken down the tunnel it knew about, so this one is ours to remove.
      if (iface && stopping) await iface.down();
      else tunnel = iface;
    }
  };
  if (config.wireguard.enabled) tunnel = await bringUpTunnel();

  // Datasets sent for training, the training queue, the model catalog and rollout to the edges.
  const modelsLog = log.child({ component: 'models' });
  const datasets = new VmDatasets(db, config.dataDir, () => config.datasets.quotaBytesPerEdge);
  const catalog = new ModelCatalog(db, config.dataDir);
  try {
    catalog.registerShipped();
  } catch (err) {
    modelsLog.warn({ err }, 'the shipped detection models could not be listed');
  }
  const training = new TrainingQueue(db, datasets, catalog, modelsLog, {
    concurrency: config.training.concurrency,
    ...(config.training.maxFramesPerJob ? { maxFramesPerJob: config.training.maxFramesPerJob } : {}),
  });
  const deployments = new ModelDeployments(db, catalog, (edgeId, req) => link.sendControl(edgeId, req), modelsLog);
  const link: LinkServer = new LinkServer(db, cache, {
    requireTunnel: config.grpc.requireTunnel,
    version,
    heartbeatSeconds: 15,
    log: log.child({ component: 'link' }),
    archive,
    datasets,
    deployments,
  });
  const grpcHost = config.wireguard.enabled ? tunnelIp : config.grpc.host;
  const grpcPort = await link.listen(grpcHost, config.grpc.port);

  let httpPort = config.http.port;
  let pairings: Promise<void> = Promise.resolve();
  const app = createVmApp({
    cache,
    link,
    archive,
    models: { datasets, catalog, training, deployments },
    apiTokenMatches: owner.matches,
    offlineAfterMs: config.telemetry.offlineAfterSeconds * 1000,
    version,
    log: log.child({ component: 'vm-api' }),
    pair(req) {
      // One at a time: between the check and the commit, no other pairing may take the code or the key.
      const run = pairings.then(async () => {
        const edge = checkPairing(db, req); // nothing is written yet
        const peer = peerOf(edge);
        // The peer is configured before the pairing is committed: a key the tunnel refuses leaves nothing behind that
        // could stop the next start. And it is known before the edge dials, so its first handshake is answered.
        const iface = tunnel;
        if (iface && peer)
          await iface.setPeer(peer).catch((err: Error) => {
            throw new GuardianError(
              'UNAVAILABLE',
              `the tunnel did not take the edge's key (${err.message}); try again`,
            );
          });
        try {
          completePairing(db, req);
        } catch (err) {
          if (iface && peer) await iface.removePeer(peer.publicKey).catch(() => undefined);
          throw err;
        }
        log.info({ edge: edge.edgeId, name: edge.name, tunnel: edge.tunnelAddress }, 'edge paired');
        return { edgeId: edge.edgeId };
      });
      pairings = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
    issuePairing: (name) => issueVmPairing(db, config, { http: httpPort, grpc: grpcPort }, name),
    async tunnelStats() {
      const stats = tunnel ? await tunnel.stats().catch(() => ({ peers: [] })) : { peers: [] };
      return new Map(
        stats.peers.map((p) => [
          p.publicKey,
          {
            lastHandshakeAgeSeconds: p.lastHandshakeAgeMs === null ? null : Math.round(p.lastHandshakeAgeMs / 1000),
            rxBytes: p.rxBytes,
            txBytes: p.txBytes,
          },
        ]),
      );
    },
  });
  // The owner's API carries clips: serve it over TLS when a certificate is configured (or put it behind a proxy).
  const tls = config.http.tls;
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, app)
    : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const address = server.address();
  httpPort = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;

  const expiry = setInterval(() => cache.expire(Date.now() - config.events.retentionDays * 86_400_000), 3_600_000);
  expiry.unref();
  const pairingExpiry = setInterval(() => deleteExpiredPairings(db), 60_000);
  // An edge gone silent: the one alert only this server can see.
  const silentEdges = new SilentEdgeWatch(
    cache,
    vmAlertChannels(config.alerts),
    config.alerts.silentMinutes * 60_000,
    log.child({ component: 'alerts' }),
  );
  silentEdges.start();
  pairingExpiry.unref();
  // Archive retention and quotas: at start, then every 10 minutes (bounded batches; one pass at a time).
  let retention: Promise<unknown> | undefined;
  const runRetention = () => {
    retention ??= archive.retention
      .run()
      .then(({ expired, evicted }) => {
        if (expired || evicted) archiveLog.info({ expired, evicted }, 'archive retention pass');
      })
      .catch((err: Error) => archiveLog.error({ error: err.message }, 'archive retention pass failed'))
      .finally(() => {
        retention = undefined;
      });
  };
  runRetention();
  training.start();
  const archiveTimer = setInterval(runRetention, 600_000);
  archiveTimer.unref();
  log.info(
    {
      url: `${tls ? 'https' : 'http'}://${host}:${httpPort}/`,
      grpc: `${grpcHost}:${grpcPort}`,
      tunnel: Boolean(tunnel),
    },
    'VM ready',
  );

  return {
    url: `${tls ? 'https' : 'http'}://${host}:${httpPort}`,
    grpcAddress: `${grpcHost}:${grpcPort}`,
    apiToken: owner.token,
    apiTokenIssued: owner.issued ? { token: owner.token, file: owner.file } : null,
    cache,
    link,
    archive,
    db,
    silentEdges,
    models: { datasets, catalog, training, deployments },
    issuePairing: (name) => issueVmPairing(db, config, { http: httpPort, grpc: grpcPort }, name),
    async stop() {
      stopping = true;
      clearInterval(expiry);
      clearInterval(pairingExpiry);
      silentEdges.stop();
      clearInterval(archiveTimer);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await training.stop();
      await link.close();
      await retention;
      await tunnel?.down();
      db.close();
    },
  };
}
