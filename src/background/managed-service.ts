import { Logger, SetMetadata, Type } from '@nestjs/common';
import { deferred } from '../common/async/deferred';

export interface ServiceDescriptor {
  /** Human name, e.g. `TaskRunRecorder`. */
  name: string;
  /** The Prefect settings block prefix, e.g. `PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER`. */
  settingsPrefix: string;
  /** One line for `services ls`. */
  description: string;
}

export interface RegisteredService extends ServiceDescriptor {
  /** `<settingsPrefix>_ENABLED`, the variable that turns the service on or off. */
  envVar: string;
  type: Type<ManagedService>;
}

export const SERVICE_METADATA = Symbol('managed-service');

/** Every service class, in declaration order; filled at import by `@BackgroundService`. */
export const SERVICE_CATALOG: RegisteredService[] = [];

/**
 * Marks a `ManagedService` subclass as a background service. The registry, the `services` CLI, `/api/ready`
 * and metrics find it through this metadata without further wiring.
 */
export function BackgroundService(descriptor: ServiceDescriptor): ClassDecorator {
  return (target) => {
    const registered: RegisteredService = {
      ...descriptor,
      envVar: `${descriptor.settingsPrefix}_ENABLED`,
      type: target as unknown as Type<ManagedService>,
    };
    if (!SERVICE_CATALOG.some((s) => s.type === registered.type)) {
      SERVICE_CATALOG.push(registered);
    }
    SetMetadata(SERVICE_METADATA, registered)(target);
  };
}

export type ServiceStatus = 'stopped' | 'starting' | 'running' | 'stopping' | 'failed';

export interface ServiceHealth {
  status: ServiceStatus;
  /** Why the service is not healthy (e.g. its last iteration failed), if it knows. */
  detail?: string;
}

/**
 * A long-running service (Prefect's `services/base.py`): `start()` brings it up and resolves once it runs,
 * `started` resolves at that moment (the "started event"), `stop()` stops it and flushes what it buffered.
 * The `ServicesRunner` starts the enabled ones after the app is up and stops them before the database
 * closes. No work may start in a constructor.
 */
export abstract class ManagedService {
  protected abstract readonly logger: Logger;
  private state: ServiceStatus = 'stopped';
  private startedSignal = deferred<void>();
  private failure?: string;

  /** Resolves when the service has started (Prefect's `started_event`). */
  get started(): Promise<void> {
    return this.startedSignal.promise;
  }

  get status(): ServiceStatus {
    return this.state;
  }

  health(): ServiceHealth {
    return this.failure ? { status: this.state, detail: this.failure } : { status: this.state };
  }

  /** Subclasses start their work here (subscribe, open timers). */
  protected abstract onStart(): Promise<void>;

  /** Subclasses stop intake and flush here. The database is still open. */
  protected abstract onStop(): Promise<void>;

  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') {
      return;
    }
    this.state = 'starting';
    this.failure = undefined;
    try {
      await this.onStart();
    } catch (err) {
      this.state = 'failed';
      this.failure = err instanceof Error ? err.message : String(err);
      throw err;
    }
    this.state = 'running';
    this.startedSignal.resolve();
    this.logger.log('started');
  }

  async stop(): Promise<void> {
    if (this.state !== 'running' && this.state !== 'failed') {
      return;
    }
    this.state = 'stopping';
    try {
      await this.onStop();
    } finally {
      this.state = 'stopped';
      this.startedSignal = deferred<void>();
      this.logger.log('stopped');
    }
  }

  /** Lets a subclass report a problem (shown by `/api/ready`) without stopping. */
  protected reportProblem(detail: string | undefined): void {
    this.failure = detail;
  }
}
