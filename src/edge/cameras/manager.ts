// Runs one supervisor per enabled camera and keeps the registry's status rows up to date.
import type { Logger } from '../../shared/log.ts';
import type { RecordingService } from '../recording/service.ts';
import type { CameraRegistry } from './registry.ts';
import { CameraSupervisor, defaultSupervisorOptions, type SupervisorOptions } from './supervisor.ts';

export class CameraManager {
  private readonly supervisors = new Map<string, CameraSupervisor>();
  /** Record-only supervisors, for cameras whose recorded main stream differs from the analysed sub stream. */
  private readonly recorders = new Map<string, CameraSupervisor>();

  constructor(
    private readonly registry: CameraRegistry,
    private readonly log: Logger,
    private options: SupervisorOptions = defaultSupervisorOptions,
    private readonly recording?: RecordingService,
  ) {}

  start(): void {
    for (const cam of this.registry.list()) this.startCamera(cam.id);
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
    const ids = new Set([...this.supervisors.keys(), ...this.registry.list().map((c) => c.id)]);
    await Promise.all([...ids].map((id) => this.reload(id)));
  }

  supervisor(id: string): CameraSupervisor | undefined {
    return this.supervisors.get(id);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.supervisors.keys()].map((id) => this.stopCamera(id)));
  }

  private startCamera(id: string): void {
    let cam: ReturnType<CameraRegistry['get']>;
    try {
      cam = this.registry.get(id);
    } catch {
      return; // removed
    }
    if (!cam.enabled) {
      this.registry.setHealth(id, { ...cam.health, status: 'disabled' });
      return;
    }
    const connection = this.registry.connection(id);
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
