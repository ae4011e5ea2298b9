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
 * i.e. before TypeORM closes the DataSource in `onApplicationShutdown`.
 */
@Injectable()
export class ServicesRunner {
  private readonly logger = new Logger(ServicesRunner.name);
  private running: ManagedService[] = [];

  constructor(
    private readonly registry: ServicesRegistry,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.server.runServices) {
      this.logger.log('services are not run by this process (SERVER_RUN_SERVICES=false)');
      return;
    }
    for (const { meta, instance } of this.registry.enabled()) {
      try {
        await instance.start();
        this.running.push(instance);
      } catch (err) {
        this.logger.error({ msg: 'service failed to start', service: meta.name, error: String(err) });
        throw err;
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    const stopping = this.running.reverse();
    this.running = [];
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
}
