import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NotFoundError } from '../common/errors/domain.error';
import { isUuid } from '../common/validation/uuid';
import { AppConfig } from '../config/app-config';
import { ConcurrencyLimitsRepository, V2Key } from './concurrency-limits.repository';
import { ConcurrencyLimitV2, ConcurrencyLimitV2Input } from './concurrency-limits.types';
import { resolveLimit } from './page';

const NOT_FOUND = 'Concurrency Limit not found';

/** `{id_or_name}` of the v2 routes: a UUID addresses the id, anything else the name (as upstream). */
export function v2Key(idOrName: string): V2Key {
  return isUuid(idOrName, { hyphensOptional: true }) ? { id: idOrName.toLowerCase() } : { name: idOrName };
}

/** Global (v2) concurrency limits: `/v2/concurrency_limits/…`. A duplicate name → 409 (integrity error). */
@Injectable()
export class ConcurrencyLimitsV2Service {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: ConcurrencyLimitsRepository,
    private readonly config: AppConfig,
  ) {}

  async create(
    input: ConcurrencyLimitV2Input & { name: string; limit: number },
  ): Promise<ConcurrencyLimitV2> {
    return this.repo.insertV2(this.dataSource.manager, input);
  }

  async read(idOrName: string): Promise<ConcurrencyLimitV2> {
    const limit = await this.repo.findV2(this.dataSource.manager, v2Key(idOrName));
    if (!limit) {
      throw new NotFoundError(NOT_FOUND);
    }
    return limit;
  }

  async list(page: { limit?: number | null; offset?: number }): Promise<ConcurrencyLimitV2[]> {
    return this.repo.listV2(this.dataSource.manager, {
      limit: resolveLimit(page.limit, this.config.api.defaultLimit),
      offset: page.offset ?? 0,
    });
  }

  async update(idOrName: string, patch: ConcurrencyLimitV2Input): Promise<void> {
    const updated = await this.repo.updateV2(this.dataSource.manager, v2Key(idOrName), patch);
    if (!updated) {
      throw new NotFoundError(NOT_FOUND);
    }
  }

  async delete(idOrName: string): Promise<void> {
    if (!(await this.repo.deleteV2(this.dataSource.manager, v2Key(idOrName)))) {
      throw new NotFoundError(NOT_FOUND);
    }
  }
}
