import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ServiceReport, ServicesRegistry } from '../services/services.registry';

export interface Readiness {
  ready: boolean;
  database: { ok: boolean; detail?: string };
  services: ServiceReport[];
  /** What is down, one line each (empty when ready). */
  down: string[];
}

const DB_CHECK_TIMEOUT_MS = 2000;

@Injectable()
export class HealthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly services: ServicesRegistry,
  ) {}

  async readiness(): Promise<Readiness> {
    const database = await this.checkDatabase();
    const services = this.services.report();
    const down: string[] = [];
    if (!database.ok) down.push(`database: ${database.detail}`);
    for (const s of services) {
      if (!s.enabled) continue;
      if (s.status !== 'running') down.push(`${s.name}: ${s.status}${s.detail ? ` (${s.detail})` : ''}`);
      else if (s.detail) down.push(`${s.name}: ${s.detail}`);
    }
    return { ready: down.length === 0, database, services, down };
  }

  private async checkDatabase(): Promise<{ ok: boolean; detail?: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${DB_CHECK_TIMEOUT_MS} ms`)),
            DB_CHECK_TIMEOUT_MS,
          );
        }),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
