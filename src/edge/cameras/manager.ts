// Runs one supervisor per enabled camera and keeps the registry's status rows up to date.
import type { Logger } from '../../shared/log.ts';
import type { CameraRegistry } from './registry.ts';
import { CameraSupervisor, defaultSupervisorOptions, type SupervisorOptions } from './supervisor.ts';

export class CameraManager {
  private readonly supervisors = new Map<string, CameraSupervisor>();

  constructor(
    private readonly registry: CameraRegistry,
    private readonly log: Logger,
    private readonly options: SupervisorOptions = defaultSupervisorOptions,
  ) {}

  start(): void {
    for (const cam of this.registry.list()) this.startCamera(cam.id);
  }

  /** Call after a camera was added, changed or removed: only that camera restarts. */
  async reload(id: string): Promise<void> {
    await this.stopCamera(id);
    this.startCamera(id);
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
    const sup = new CameraSupervisor(this.registry.connection(id), this.options, this.log.child({ camera: id }));
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
    if (!sup) return;
    this.supervisors.delete(id);
    await sup.stop();
  }
}
