// The edge appliance: database, cameras, media process, events and outbox, telemetry and the HTTP API, started
// and stopped in order.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';

import YAML from 'yaml';
import type { RecorderEvent } from '../../bindings/index.ts';
import { ClockWatch } from '../shared/clock.ts';
import type { Config } from '../shared/config.ts';
import { databaseHealth } from '../shared/db-integrity.ts';
import { restrictUmask, secureDataDir } from '../shared/fs-perms.ts';
import type { Logger } from '../shared/log.ts';
import { projectRoot } from '../shared/paths.ts';
import { AlertService } from './alerts/service.ts';
import { ModelInstaller } from './anomaly/deploy.ts';
import { AnomalyModels } from './anomaly/learn.ts';
import { EdgeArchiver } from './archive/archiver.ts';
import { loadArchiveKey } from './archive/key.ts';
import { ArchiveRetrieval } from './archive/retrieval.ts';
import { type CameraHealth, CameraRegistry } from './cameras/registry.ts';
import { DatasetStore } from './datasets/store.ts';
import { DatasetUploads } from './datasets/upload.ts';
import { secondLookApplies } from './detect/second-look.ts';
import { UsbHotplug } from './discovery/hotplug.ts';
import type { UsbScanOptions } from './discovery/usb.ts';
import { attachAnomalyEvents } from './events/anomaly-events.ts';
import { EventClips } from './events/clips.ts';
import { EventGenerator, type FrameDetections } from './events/generator.ts';
import { Outbox } from './events/outbox.ts';
import { EventRetention } from './events/retention.ts';
import { writeEventSnapshot } from './events/snapshots.ts';
import { EventStore } from './events/store.ts';
import { attachTamperEvents } from './events/tamper-events.ts';
import { LinkClient } from './link/client.ts';
import { pairEdge } from './link/pairing.ts';
import { helloReport, telemetryReport } from './link/reports.ts';
import { MediaProcess } from './media/process.ts';
import type { AnomalyModelFailedMessage } from './media/protocol.ts';
import { RecordingService, recordingConfig } from './recording/service.ts';
import { openEdgeDatabase } from './schema.ts';
import { applyConfig } from './settings.ts';
import { Telemetry } from './telemetry.ts';
import { AcmeCertificates } from './web/acme.ts';
import { Auth } from './web/auth.ts';
import { createEdgeServer, type EdgeContext } from './web/server.ts';
import { edgeTlsMaterial, tlsWanted } from './web/tls.ts';

export interface Edge {
  ctx: EdgeContext;
  /** The archive secret's file, and the secret itself when it was made at this start (to show the owner once). */
  archiveKey: { secretFile: string; created: string | null };
  generator: EventGenerator;
  link: LinkClient;
  url: string;
  server: Server;
  /** The UI's certificate when it is served over HTTPS; created at this start or not. */
  tls: { fingerprint: string; created: boolean } | null;
  stop(): Promise<void>;
}

const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

export interface EdgeOptions {
  log: Logger;
  configPath?: string;
  /** Where USB cameras are looked for (tests synthesise these trees: no camera device exists on a CI machine). */
  usb?: UsbScanOptions;
}

export async function startEdge(config: Config, options: EdgeOptions): Promise<Edge> {
  const { log } = options;
  // Camera credentials, keys and evidence are this user's only: created private, and an open tree fixed (warned).
  restrictUmask();
  secureDataDir(config.dataDir, {
    log,
    files: [options.configPath, config.archive.secretFile].flatMap((path) => (path ? [{ path, fix: true }] : [])),
  });
  const db = openEdgeDatabase(join(config.dataDir, 'guardian.db'));
  const dbHealth = databaseHealth(db);
  if (!dbHealth.ok)
    log.error(
      { problems: dbHealth.problems, salvage: dbHealth.salvage },
      'the database was damaged: what could be read was copied into a new one, the damaged file is kept',
    );
  const registry = new CameraRegistry(db, { detectFps: config.detection.fps });
  const outbox = new Outbox(db);
  const events = new EventStore(db, outbox);
  const auth = new Auth(db, config.auth);
  const media = new MediaProcess(
    {
      config,
      heartbeatTimeoutMs: 10_000,
      backoff: { initialMs: 500, maxMs: 30_000 },
    },
    log.child({ component: 'media-supervisor' }),
  );
  // The main process is the database's only writer: the media process reports segments and health, and does the
  // native work (clip cutting, measuring files) the recording index asks of it.
  const recording = new RecordingService(db, recordingConfig(config.dataDir, config.recording), log, {
    exportClip: (o) => media.request('exportClip', o, 30_000),
    measure: async (path) => (await media.request('measure', { path }, 60_000)) ?? undefined,
  });
  const telemetry = new Telemetry(config.dataDir, media, outbox);
  const link = new LinkClient(
    {
      dataDir: config.dataDir,
      interfaceName: config.link.interface,
      heartbeatSeconds: config.link.heartbeatSeconds,
      telemetrySeconds: config.link.telemetrySeconds,
      backoff: { initialMs: 1000, maxMs: 5000 }, // one hello per attempt: cheap, and the link returns quickly
    },
    {
      outbox,
      log: log.child({ component: 'link' }),
      hello: () =>
        helloReport(
          version,
          registry,
          media,
          anomaly.cameras().map((c) => anomaly.report(c)),
        ),
      telemetry: () => telemetryReport(telemetry),
      clipFile: (eventId) => ctx.eventClip(eventId),
      onModelRequest: (req) => void installer.handle(req),
    },
  );
  outbox.onEnqueue = () => link.kick();
  // Encrypted evidence off the box, once paired: the secret stays here; the server gets ciphertext only.
  const archiveKey = await loadArchiveKey(config.dataDir, config.archive.secretFile);
  const archiver = new EdgeArchiver(config.dataDir, db, events, outbox, () => ctx.config.archive, archiveKey.kek, log);
  const archiveEvent = (eventId: string, clipFile: string | null) => {
    if (link.state.configured)
      archiver
        .queue(eventId, clipFile)
        .catch((err) => log.warn({ event: eventId, err }, 'could not queue the event for the archive'));
  };
  link.registerDelivery(
    'archive',
    archiver.delivery((header, body) => link.uploadArchive(header, body)),
  );
  // ...and read back (decrypted here) when the box's own copy is gone.
  const retrieval = new ArchiveRetrieval(link, archiveKey.kek, (eventId) => archiver.state(eventId), log);
  const clips = new EventClips(
    config.dataDir,
    events,
    recording,
    () => ctx.config.recording,
    log,
    (ev, file) => archiveEvent(ev.id, file),
  );
  const tamper = attachTamperEvents({ media, events, recording, clips, dataDir: config.dataDir, log });
  const unusual = attachAnomalyEvents({ media, events, recording, clips, dataDir: config.dataDir, log });
  // Anomaly models learned from each camera's recordings; a new active one goes to the media process at once.
  const sendAnomalyModel = (cameraId: string) => {
    const a = anomaly.active(cameraId);
    return media.request('setAnomalyModel', {
      cameraId,
      model: a ? { dir: a.dir, version: a.version } : null,
    });
  };
  const anomaly = new AnomalyModels(
    config.dataDir,
    {
      segments: (cameraId, startMs, endMs) =>
        recording.index
          .overlapping(cameraId, startMs, endMs)
          .map((s) => ({ path: recording.index.absolute(s), duration: s.duration })),
      detectFps: (cameraId) => registry.entry(cameraId)?.detectFps ?? config.detection.fps,
      detector: () => ({ model: config.detection.model, classes: config.detection.classes }),
    },
    log.child({ component: 'anomaly' }),
    (cameraId) => {
      if (media.ready)
        void sendAnomalyModel(cameraId).catch((err) =>
          log.warn({ camera: cameraId, err }, 'the media process could not load the anomaly model'),
        );
    },
  );
  // Models the owner's server deploys (and rollbacks it asks for); a model the media process cannot load goes back.
  const installer = new ModelInstaller(
    anomaly,
    link,
    (id) => Boolean(registry.entry(id)),
    log.child({ component: 'models' }),
  );
  media.on('anomalyModelFailed', (m: AnomalyModelFailedMessage) =>
    installer.loadFailed(m.cameraId, m.version, m.message),
  );
  // The labelled dataset goes to the owner's server for training on the owner's word, through the outbox.
  const datasets = new DatasetStore(db, config.dataDir);
  const datasetUploads = new DatasetUploads(config.dataDir, datasets, outbox, log.child({ component: 'datasets' }));
  link.registerDelivery(
    'dataset',
    datasetUploads.delivery((header, file) => link.uploadDataset(header, file)),
  );
  const latestFrames = new Map<string, FrameDetections>();
  // Alerts: events rated by the owner's rules, camera and recorder trouble, out through the channels configured.
  const alerts = new AlertService({
    db,
    dataDir: config.dataDir,
    config: () => ctx.config.alerts,
    retentionDays: () => ctx.config.events.retentionDays,
    events,
    cameras: () => registry.list().map((c) => ({ id: c.id, name: c.name })),
    edgeId: () => link.state.edgeId,
    log,
  });
  events.onChange((change, ev) => {
    try {
      alerts.engine.eventChanged(change, ev);
    } catch (err) {
      // An alerting bug must not stop events from being recorded.
      log.error({ err, event: ev.id }, 'alerting failed for an event');
    }
  });
  // Alerting must never break what feeds it (the recorder's disk guard, the heartbeat): a failure is logged.
  const alerting =
    <A extends unknown[]>(what: string, fn: (...args: A) => void) =>
    (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        log.error({ err }, `alerting failed: ${what}`);
      }
    };
  recording.on(
    'paused',
    alerting('recording paused', (cameraId: string, e: { message: string; code: string }) =>
      alerts.engine.recordingPaused(cameraId, `${e.message} [${e.code}]`),
    ),
  );
  recording.on(
    'resumed',
    alerting('recording resumed', (cameraId: string) => alerts.engine.recordingResumed(cameraId)),
  );
  recording.on(
    'disk',
    alerting('disk', (d: { full: boolean; freeBytes: number }) => alerts.engine.diskState(d.full, d.freeBytes)),
  );
  recording.on(
    'evicted',
    alerting('evicted', (freedBytes: number) => alerts.engine.evictedEarly(freedBytes)),
  );
  const cameraHealthAlert = alerting('camera health', (id: string, h: CameraHealth) =>
    alerts.engine.cameraHealth(id, h.status, h.lastError),
  );
  // The server's warnings about this edge (its archive quota) come with each telemetry reply.
  const serverWarningsWatch = setInterval(
    alerting('server warnings', () => alerts.engine.serverWarnings(link.state.serverWarnings)),
    60_000,
  );
  serverWarningsWatch.unref();

  const ctx: EdgeContext = {
    version,
    config,
    dataDir: config.dataDir,
    db,
    registry,
    events,
    datasets,
    datasetUploads,
    auth,
    media,
    telemetry,
    log,
    async saveConfig(next) {
      if (options.configPath) writeFileSync(options.configPath, YAML.stringify(next));
      const prev = ctx.config;
      ctx.config = next;
      const report = await applyConfig(prev, next, { media, recording, registry, generator, telemetry });
      await alerts.reconfigure();
      return report;
    },
    eventClip: (eventId) => clips.file(eventId),
    archiveStates: (eventIds) => archiver.states(eventIds),
    archive: retrieval,
    protectEvent(eventId, value) {
      const ev = events.update(eventId, { protected: value }, 'event.update');
      // "Protected only" archives an event when the owner protects it (its clip is cut if it is not yet).
      if (value && archiver.wanted(ev))
        void clips.file(eventId).then(
          (file) => archiveEvent(eventId, file),
          () => archiveEvent(eventId, null),
        );
      return ev;
    },
    async reloadCamera(cameraId) {
      // A media process that is not running gets every camera when it starts.
      if (!media.ready) return;
      await media
        .request('reloadCamera', { cameraId, camera: registry.entry(cameraId) ?? null })
        .catch((err) => log.error({ camera: cameraId, err }, 'the media process could not restart the camera'));
    },
    latestFrame: (cameraId) => latestFrames.get(cameraId),
    offeredCameras: () => hotplug.offered(),
    anomaly,
    alerts,
    linkState: () => link.state,
    reportModel: (report) => link.reportModel(report),
    async pairLink(code, name) {
      await pairEdge(code, config.dataDir, name ? { name } : {});
      log.info('paired with a new server; reconnecting');
      await link.reload();
      return link.state;
    },
  };

  const generator = new EventGenerator(
    events,
    {
      classes: new Set(Object.keys(config.detection.classes)),
      endAfterSeconds: config.events.endAfterSeconds,
      requiredZones: (cameraId) => ctx.config.cameras[cameraId]?.requiredZones ?? [],
    },
    {
      async snapshot(ev, frame, box) {
        // The second look at the same frame, beside the snapshot: its verdict decides whether the event alerts.
        const look = ctx.config.alerts.secondLook;
        const [files, secondOpinion] = await Promise.all([
          writeEventSnapshot(config.dataDir, media, ev, frame, box),
          look.enabled && secondLookApplies(ev.label)
            ? media
                .request('secondLook', {
                  cameraId: frame.cameraId,
                  frameIndex: frame.frameIndex,
                  width: frame.width,
                  height: frame.height,
                  box,
                  label: ev.label,
                  confirmScore: look.confirmScore,
                })
                .then(
                  (o) => ({ verdict: o.verdict, score: o.score }),
                  (err) => {
                    log.debug({ event: ev.id, err }, 'no second look (the frame left the ring)');
                    return null;
                  },
                )
            : null,
        ]);
        // A later, better view may confirm what an earlier one did not; once confirmed, it stays so.
        return secondOpinion && ev.secondOpinion?.verdict !== 'confirmed' ? { ...files, secondOpinion } : files;
      },
      ended(ev) {
        recording.claimForEvent(ev.cameraId, ev.startMs, ev.endMs ?? ev.startMs);
        clips.afterEnd(ev);
      },
    },
    log.child({ component: 'events' }),
  );
  // Last line of defence: a promise nobody handled (a bug) is logged; the recordings go on rather than the process
  // dying with them (node's default). Once per process: tests start several edges in one.
  if (!process.listenerCount('unhandledRejection'))
    process.on('unhandledRejection', (err) =>
      log.error({ err }, 'a failure nothing handled (a bug, please report it): logged, the edge goes on'),
    );
  // Events the last run left open (it was killed): ended now, with their clips, like any other end.
  for (const ev of events.endAbandoned()) {
    log.warn(
      { event: ev.id, camera: ev.cameraId },
      'event left open by an interrupted run: ended where it was last seen',
    );
    recording.claimForEvent(ev.cameraId, ev.startMs, ev.endMs ?? ev.startMs);
    clips.afterEnd(ev);
  }
  media.on('frame', (m) => {
    if (m.detected) latestFrames.set(m.frame.cameraId, m.frame);
    generator.handle(m.frame);
  });
  // Track ids restart with the media process: end what is open rather than mix objects up.
  media.on('exit', () => generator.finishAll());
  media.on('recording', (m: { cameraId: string; event: RecorderEvent }) =>
    recording.onRecorderEvent(m.cameraId, m.event),
  );
  // Camera health is persisted here when it changes (the media process reports it every second).
  const lastHealth = new Map<string, string>();
  media.on('heartbeat', (m: { cameras: Record<string, CameraHealth> }) => {
    for (const [id, h] of Object.entries(m.cameras)) {
      const key = JSON.stringify([h.status, h.lastError, h.lastErrorCode, h.reconnects]);
      if (lastHealth.get(id) === key || !registry.entry(id)) continue;
      registry.setHealth(id, h);
      cameraHealthAlert(id, h);
      lastHealth.set(id, key); // after the write: one that failed (disk full) is tried again
    }
  });
  // Each (re)start of the media process: salvage what a crash left half-written, then run the cameras.
  media.on('ready', () => {
    void (async () => {
      await recording.reconcile();
      const cameras = registry.ids().flatMap((id) => registry.entry(id) ?? []);
      await media.request('startCameras', { cameras });
      for (const c of cameras) if (anomaly.active(c.id)) await sendAnomalyModel(c.id);
    })().catch((err) => log.error({ err }, 'could not start the cameras in the media process'));
  });
  for (const [id, cam] of Object.entries(config.cameras)) recording.setMode(id, cam.recordMode);
  recording.start();

  const retention = new EventRetention(
    config.dataDir,
    events,
    () => ctx.config.events.retentionDays,
    new ClockWatch(10 * 60_000, log.child({ component: 'events' })),
  );
  retention.start();

  const hotplug = new UsbHotplug(
    registry,
    (cameraId) => ctx.reloadCamera(cameraId),
    log.child({ component: 'usb' }),
    options.usb,
  );
  await hotplug.start();

  await alerts.start();
  media.start();
  telemetry.start(config.telemetry.intervalSeconds);
  await link.start();
  const acmeSettings = tlsWanted(config) ? config.http.tls.acme : undefined;
  let acme: AcmeCertificates | undefined;
  if (acmeSettings)
    acme = new AcmeCertificates(acmeSettings, {
      dataDir: config.dataDir,
      host: config.http.host,
      log: log.child({ component: 'acme' }),
      onCertificate(m) {
        listener.setCertificate(m);
        ctx.tlsFingerprint = m.fingerprint;
      },
    });
  // A stored ACME certificate serves at once; else the self-signed one until the CA has issued.
  const tls = tlsWanted(config) ? (acme?.stored() ?? (await edgeTlsMaterial(config))) : null;
  if (tls) ctx.tlsFingerprint = tls.fingerprint;
  ctx.acmeStatus = acme && (() => acme.status());
  const { listener } = createEdgeServer(ctx, tls, acme?.challenges);
  const server = listener.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  acme?.start(port);
  const host =
    config.http.host === '0.0.0.0'
      ? '127.0.0.1'
      : config.http.host.includes(':')
        ? `[${config.http.host}]`
        : config.http.host;
  const url = `${listener.scheme}://${host}:${port}`;
  log.info({ url: `${url}/`, ...(tls ? { tlsFingerprint: tls.fingerprint } : {}) }, 'edge ready');

  return {
    ctx,
    archiveKey: { secretFile: archiveKey.secretFile, created: archiveKey.created },
    generator,
    link,
    server,
    url,
    tls: tls ? { fingerprint: tls.fingerprint, created: tls.created } : null,
    async stop() {
      acme?.stop();
      retention.stop();
      recording.stop();
      clips.stop();
      hotplug.stop();
      await new Promise((r) => {
        server.close(r);
        listener.closeAll();
      });
      generator.finishAll();
      tamper.finishAll();
      unusual.finishAll();
      anomaly.stop();
      await media.stop(); // finishes the segments being written
      clearInterval(serverWarningsWatch);
      await alerts.stop();
      await link.pump().catch(() => 0); // last attempt to flush the outbox
      await link.stop();
      telemetry.stop();
      db.close();
    },
  };
}
