import { Injectable, Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ServiceReport, ServicesRegistry } from '../background/services.registry';
import { AppConfig } from '../config/app-config';

export interface Readiness {
  ready: boolean;
  database: { ok: boolean; detail?: string };
  services: ServiceReport[];
  /** What is down, one line each (empty when ready). */
  down: string[];
}

/** The reasons `/api/ready` gives for the database: stable words, never a driver's message. */
export const DATABASE_DOWN = {
  timeout: (ms: number) => `no answer within ${ms} ms`,
  unreachable: 'unreachable',
} as const;

/**
 * Network error text of the `pg`/`ioredis` drivers (`connect ECONNREFUSED 10.0.0.5:5432`, `read ECONNRESET`,
 * `getaddrinfo ENOTFOUND db.internal`): it names hosts and ports, so it never leaves the process through the
 * open readiness route. The services' own words around it stay.
 */
const DRIVER_NETWORK_TEXT =
  /\b(?:(?:connect|read|write|getaddrinfo) )?E(?:CONN\w+|TIMEDOUT|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN|PIPE)\b(?: \S+)?/g;

export function redactDriverText(detail: string): string {
  return detail.replace(DRIVER_NETWORK_TEXT, 'unreachable');
}

/**
 * Readiness. The database check opens its own short-lived connection (never one of the app's pool, so
 * probes cannot drain the pool while the database hangs), bounded by DATABASE_READINESS_TIMEOUT for connect
 * and query together, and destroyed when the deadline passes. Concurrent probes share one check in flight,
 * so a storm of probes costs one connection. See docs/operating.md ("Limits and timeouts").
 */
@Injectable()
export class HealthService {
  private readonly logger = new Logger(HealthService.name);
  private inFlight?: Promise<{ ok: boolean; detail?: string }>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly services: ServicesRegistry,
    private readonly config: AppConfig,
  ) {}

  async readiness(): Promise<Readiness> {
    const database = await this.checkDatabase();
    const services = this.services.report();
    const down: string[] = [];
    if (!database.ok) {
      down.push(`database: ${database.detail}`);
    }
    for (const s of services) {
      if (!s.enabled) {
        continue;
      }
      if (s.detail) {
        s.detail = redactDriverText(s.detail);
      }
      if (s.status !== 'running') {
        down.push(`${s.name}: ${s.status}${s.detail ? ` (${s.detail})` : ''}`);
      } else if (s.detail) {
        down.push(`${s.name}: ${s.detail}`);
      }
    }
    return { ready: down.length === 0, database, services, down };
  }

  private checkDatabase(): Promise<{ ok: boolean; detail?: string }> {
    this.inFlight ??= this.probeDatabase().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async probeDatabase(): Promise<{ ok: boolean; detail?: string }> {
    const timeoutMs = Math.round(this.config.database.readinessTimeout * 1000);
    const url = (this.dataSource.options as { url?: string }).url;
    const client = new Client({
      connectionString: url,
      connectionTimeoutMillis: timeoutMs,
      application_name: 'prefect-task-runs-server:readiness',
    });
    client.on('error', () => undefined); // a connection we destroy ourselves
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const started = Date.now();
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          await client.query('SELECT 1');
        })(),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(new Error('deadline'));
          }, timeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (err) {
      this.logger.debug({
        msg: 'readiness: database check failed',
        error: err instanceof Error ? err.message : String(err),
      });
      // pg's own connect timeout may fire a moment before ours: either way it is a timeout.
      const late = timedOut || Date.now() - started >= timeoutMs - 50;
      return { ok: false, detail: late ? DATABASE_DOWN.timeout(timeoutMs) : DATABASE_DOWN.unreachable };
    } finally {
      clearTimeout(timer);
      if (timedOut || Date.now() - started >= timeoutMs - 50) {
        (
          client as unknown as { connection?: { stream?: { destroy(): void } } }
        ).connection?.stream?.destroy();
      }
      void client.end().catch(() => undefined);
    }
  }
}
