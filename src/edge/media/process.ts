// Supervises the media process: starts it, watches its heartbeat, restarts it with backoff when it crashes or
// hangs, and carries requests to it. The API, the database and the link keep running meanwhile.
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backoffDelay } from '../../shared/backoff.ts';
import { GuardianError, isErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { CameraRuntime, FromMedia, MediaMethod, MediaMethods, ToMedia } from './protocol.ts';

const workerPath = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts');

export interface MediaProcessOptions {
  config: unknown;
  heartbeatTimeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
}

export class MediaProcess extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;
  private lastHeartbeat = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  restarts = 0;
  cameras: Record<string, CameraRuntime> = {};
  backend: { name: string; fallback: string | null } | null = null;
  ready = false;
  pid: number | null = null;

  constructor(
    private readonly options: MediaProcessOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** The configuration a (re)started media process begins with; a running one is told by `configure`. */
  setConfig(config: unknown): void {
    this.options.config = config;
  }

  start(): void {
    this.stopping = false;
    this.spawn();
    this.watchdog = setInterval(() => {
      // A hung media process (deadlocked decoder, stuck driver) stops sending heartbeats: kill and restart it.
      if (this.child && this.ready && Date.now() - this.lastHeartbeat > this.options.heartbeatTimeoutMs) {
        this.log.error({ pid: this.child.pid }, 'media process stopped answering; killing it');
        this.child.kill('SIGKILL');
      }
    }, 500);
  }

  private lastListenerErrorMs = 0;

  private spawn(): void {
    const child = fork(workerPath, [], {
      // Single-threaded GC: V8's parallel GC helpers would compete with the decoder threads for the few cores of an
      // N100-class box (measured: decode throughput +3-4 % on two cores); the media process has little JS garbage.
      execArgv: ['--import', 'tsx', '--single-threaded-gc'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.pid = child.pid ?? null;
    this.ready = false;
    this.lastHeartbeat = Date.now();
    child.on('message', (m: FromMedia) => {
      // What a listener throws (a full disk under the database, say) is logged, not a crash of the main process:
      // the next frame or heartbeat tries again.
      try {
        this.onMessage(m);
      } catch (err) {
        const now = Date.now();
        if (now - this.lastListenerErrorMs > 10_000) {
          this.lastListenerErrorMs = now;
          this.log.error({ err, message: m.type }, 'handling a message from the media process failed');
        }
      }
    });
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    const init: ToMedia = { type: 'init', config: this.options.config };
    child.send(init);
  }

  private onMessage(m: FromMedia): void {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.backend = { name: m.backend, fallback: m.fallback };
        this.lastHeartbeat = Date.now();
        this.emit('ready');
        break;
      case 'heartbeat':
        this.lastHeartbeat = Date.now();
        this.cameras = m.cameras;
        this.emit('heartbeat', m);
        break;
      case 'frame':
        this.emit('frame', m);
        break;
      case 'recording':
        this.emit('recording', m);
        break;
      case 'tamper':
        this.emit('tamper', m);
        break;
      case 'anomaly':
        this.emit('anomaly', m);
        break;
      case 'anomalyModelFailed':
        this.emit('anomalyModelFailed', m);
        break;
      case 'response': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.result);
        else p.reject(new GuardianError(isErrorCode(m.error.code) ? m.error.code : 'MEDIA_ERROR', m.error.message));
        break;
      }
      case 'fatal':
        this.log.error({ error: m.error }, 'media process could not start');
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = false;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new GuardianError('MEDIA_RESTARTING', 'the media process exited'));
      this.pending.delete(id);
    }
    if (this.stopping) return;
    this.restarts++;
    const delay = backoffDelay(this.restarts - 1, { ...this.options.backoff, factor: 2, jitter: 0 });
    this.log.error({ code, signal, restarts: this.restarts, delayMs: delay }, 'media process exited; restarting');
    this.emit('exit', { code, signal });
    setTimeout(() => {
      if (!this.stopping) this.spawn();
    }, delay).unref();
  }

  request<M extends MediaMethod>(
    method: M,
    params: MediaMethods[M]['params'],
    timeoutMs = 15_000,
  ): Promise<MediaMethods[M]['result']> {
    type T = MediaMethods[M]['result'];
    const child = this.child;
    if (!child || !this.ready)
      return Promise.reject(new GuardianError('MEDIA_UNAVAILABLE', 'the media process is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GuardianError('TIMEOUT', `media request ${method} timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: ToMedia = { type: 'request', id, method, params };
      child.send(msg);
    });
  }

  /** Graceful stop: the media process finishes its segments before exiting. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
