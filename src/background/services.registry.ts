import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { ManagedService, RegisteredService, SERVICE_METADATA, ServiceHealth } from './managed-service';

export interface ServiceInfo {
  name: string;
  env_var: string;
  enabled: boolean;
  description: string;
}

export interface ServiceReport extends ServiceInfo, ServiceHealth {}

/** Knows every service instance in the app, and which of them are enabled by their settings. */
@Injectable()
export class ServicesRegistry {
  private cache?: { meta: RegisteredService; instance: ManagedService }[];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  /** Every service with its metadata, in a stable order (by name). */
  all(): { meta: RegisteredService; instance: ManagedService }[] {
    this.cache ??= this.discovery
      .getProviders()
      .filter((wrapper) => wrapper.metatype && wrapper.instance instanceof ManagedService)
      .map((wrapper) => ({
        meta: this.reflector.get<RegisteredService | undefined>(SERVICE_METADATA, wrapper.metatype!),
        instance: wrapper.instance as ManagedService,
      }))
      .filter((s): s is { meta: RegisteredService; instance: ManagedService } => s.meta !== undefined)
      .sort((a, b) => a.meta.name.localeCompare(b.meta.name));
    return this.cache;
  }

  /** The services this process runs: enabled by their setting, and SERVER_RUN_SERVICES is on. */
  enabled(): { meta: RegisteredService; instance: ManagedService }[] {
    return this.all().filter((s) => this.isEnabled(s.meta));
  }

  private isEnabled(meta: RegisteredService): boolean {
    return this.config.server.runServices && this.config.isServiceEnabled(meta.envVar);
  }

  report(): ServiceReport[] {
    return this.all().map(({ meta, instance }) => ({
      name: meta.name,
      env_var: meta.envVar,
      enabled: this.isEnabled(meta),
      description: meta.description,
      ...instance.health(),
    }));
  }
}

/**
 * Starts the enabled services once the app is up and stops them, flushing, in `beforeApplicationShutdown`,
 * i.e. before TypeORM closes the DataSource in `onApplicationShutdown`. A service that fails to start (its
 * broker or database is down) does not stop the app: it is reported by `/api/ready` and started again with
 * backoff until it runs.
 */
@Injectable()
export class ServicesRunner {
  private readonly logger = new Logger(ServicesRunner.name);
  private readonly managed: ManagedService[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly registry: ServicesRegistry,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.server.runServices) {
      this.logger.log('services are not run by this process (SERVER_RUN_SERVICES=false)');
      return;
    }
    this.stopping = false;
    await Promise.all(
      this.registry.enabled().map(({ meta, instance }) => this.startWithRetry(meta.name, instance, 0)),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const timer of this.retryTimers) {
      clearTimeout(timer);
    }
    this.retryTimers.clear();
    const stopping = this.managed.splice(0).reverse();
    for (const service of stopping) {
      try {
        await service.stop();
      } catch (err) {
        this.logger.error({
          msg: 'service failed to stop cleanly',
          error: err instanceof Error ? err.stack : String(err),
        });
      }
    }
  }

  private async startWithRetry(name: string, service: ManagedService, attempt: number): Promise<void> {
    if (this.stopping) {
      return;
    }
    if (!this.managed.includes(service)) {
      this.managed.push(service);
    }
    try {
      await service.start();
    } catch (err) {
      const delayMs = Math.min(30_000, 500 * 2 ** attempt);
      this.logger.error({
        msg: 'service failed to start; retrying',
        service: name,
        attempt: attempt + 1,
        delayMs,
        error: String(err),
      });
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        void this.startWithRetry(name, service, attempt + 1);
      }, delayMs);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }
}
