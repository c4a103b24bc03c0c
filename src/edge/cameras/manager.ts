// Runs one supervisor per enabled camera and keeps the registry's status rows up to date.
import type { Logger } from '../../shared/log.ts';
import type { RecordingService } from '../recording/service.ts';
import type { CameraEntry, CameraHealth } from './registry.ts';
import { CameraSupervisor, defaultSupervisorOptions, newHealth, type SupervisorOptions } from './supervisor.ts';

/** Where the manager finds its cameras: the registry in one process, or what the main process sent the media one. */
export interface CameraDirectory {
  ids(): string[];
  entry(id: string): CameraEntry | undefined;
  setHealth(id: string, health: CameraHealth): void;
}

/** What the manager needs of recording: native record options for a camera's recorded stream. */
export type RecordOptionsFor = Pick<RecordingService, 'sourceOptions'>;

export class CameraManager {
  private readonly supervisors = new Map<string, CameraSupervisor>();
  /** Record-only supervisors, for cameras whose recorded main stream differs from the analysed sub stream. */
  private readonly recorders = new Map<string, CameraSupervisor>();

  constructor(
    private readonly registry: CameraDirectory,
    private readonly log: Logger,
    private options: SupervisorOptions = defaultSupervisorOptions,
    private readonly recording?: RecordOptionsFor,
  ) {}

  start(): void {
    for (const id of this.registry.ids()) if (!this.supervisors.has(id)) this.startCamera(id); // idempotent
  }

  /** Call after a camera was added, changed or removed: only that camera restarts. */
  async reload(id: string): Promise<void> {
    await this.stopCamera(id);
    this.startCamera(id);
  }

  /** Changes what every camera's source is opened with (model tensor, ...); takes effect as cameras restart. */
  setOptions(patch: Partial<SupervisorOptions>): void {
    this.options = { ...this.options, ...patch };
  }

  /** Restarts every camera (their sources reopen with the current options). */
  async reloadAll(): Promise<void> {
    const ids = new Set([...this.supervisors.keys(), ...this.registry.ids()]);
    await Promise.all([...ids].map((id) => this.reload(id)));
  }

  supervisor(id: string): CameraSupervisor | undefined {
    return this.supervisors.get(id);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.supervisors.keys()].map((id) => this.stopCamera(id)));
  }

  private startCamera(id: string): void {
    const connection = this.registry.entry(id);
    if (!connection) return; // removed
    if (!connection.enabled) {
      this.registry.setHealth(id, newHealth('disabled'));
      return;
    }
    const log = this.log.child({ camera: id });
    const recording = this.recording;
    const separateRecordStream = connection.recordUrl !== connection.detectUrl;
    const record = recording ? () => recording.sourceOptions(id) : undefined;
    const sup = new CameraSupervisor(
      connection,
      { ...this.options, stream: 'detect', ...(record && !separateRecordStream ? { record } : {}) },
      log,
    );
    if (record && separateRecordStream) {
      // The main stream is only recorded (stream copy), never decoded: its own connection and supervisor.
      const rec = new CameraSupervisor(
        connection,
        { ...this.options, stream: 'record', record, onFrame: undefined },
        log,
      );
      this.recorders.set(id, rec);
      rec.start();
    }
    sup.on('health', (h) => {
      try {
        this.registry.setHealth(id, h);
      } catch {
        // the camera was removed while its supervisor was stopping
      }
    });
    this.supervisors.set(id, sup);
    sup.start();
  }

  private async stopCamera(id: string): Promise<void> {
    const sup = this.supervisors.get(id);
    const rec = this.recorders.get(id);
    this.supervisors.delete(id);
    this.recorders.delete(id);
    await Promise.all([sup?.stop(), rec?.stop()]);
  }
}
