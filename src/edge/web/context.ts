// What the HTTP routes are given: the edge's services, and the few operations that cross them.

import type { AcmeStatus } from '../../shared/api-types.ts';
import type { Config } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import type { ModelReport } from '../../shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { Logger } from '../../shared/log.ts';
import type { AlertService } from '../alerts/service.ts';
import type { AnomalyModels } from '../anomaly/learn.ts';
import type { ArchiveState } from '../archive/archiver.ts';
import type { ArchiveRetrieval } from '../archive/retrieval.ts';
import type { CameraRegistry } from '../cameras/registry.ts';
import type { DatasetStore } from '../datasets/store.ts';
import type { DatasetUploads } from '../datasets/upload.ts';
import type { OfferedCamera } from '../discovery/hotplug.ts';
import type { EventRecord, EventStore } from '../events/store.ts';
import type { LinkState } from '../link/client.ts';
import type { MediaProcess } from '../media/process.ts';
import type { FrameDetections } from '../media/protocol.ts';
import type { ApplyReport } from '../settings.ts';
import type { Telemetry } from '../telemetry.ts';
import type { Auth } from './auth.ts';

export interface EdgeContext {
  version: string;
  config: Config;
  dataDir: string;
  db: Db;
  registry: CameraRegistry;
  events: EventStore;
  datasets: DatasetStore;
  datasetUploads: DatasetUploads;
  auth: Auth;
  media: MediaProcess;
  telemetry: Telemetry;
  log: Logger;
  /** Validates, saves and applies a new configuration. */
  saveConfig(next: Config): Promise<ApplyReport>;
  /** Restarts a camera that was added, changed or removed (logged, not thrown, when the media process fails). */
  reloadCamera(cameraId: string): Promise<void>;
  /** Archive state of events, by kind (clip, snapshot, metadata: queued or stored on the owner's server). */
  archiveStates(eventIds: string[]): Map<string, ArchiveState>;
  /** The server's encrypted copies, read back and decrypted here when the box's own copy is gone. */
  archive: Pick<ArchiveRetrieval, 'has' | 'send'>;
  /** Protects (or stops protecting) an event; with archive.include protected, that archives it. */
  protectEvent(eventId: string, value: boolean): EventRecord;
  /** Path of an event's clip, making it from the recordings if needed. */
  eventClip(eventId: string): Promise<string>;
  linkState(): LinkState;
  /** Tells the owner's server about a model change made here (false when the link is down). */
  reportModel(report: ModelReport): boolean;
  /** Pairs with the owner's server using a code from `guardian keys pair`, then reconnects. */
  pairLink(code: string, name?: string): Promise<LinkState>;
  latestFrame(cameraId: string): FrameDetections | undefined;
  /** SHA-256 of the UI's TLS certificate, when served over HTTPS (for the owner to compare with the browser's). */
  tlsFingerprint?: string;
  /** The ACME certificate's state, when http.tls.acme is set. */
  acmeStatus?: () => AcmeStatus;
  /** Each camera's anomaly models: state, and learning normal from its recordings. */
  anomaly: Pick<AnomalyModels, 'state' | 'learn' | 'rollback' | 'report'>;
  /** Alerts: raised, delivered, their channels and secrets. */
  alerts: AlertService;
  /** USB cameras plugged in that are not added yet. */
  offeredCameras(): OfferedCamera[];
}
