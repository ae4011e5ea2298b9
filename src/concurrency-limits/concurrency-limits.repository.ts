import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { preparedQuery } from '../database/prepared-query';
import {
  ConcurrencyLimitV1,
  ConcurrencyLimitV2,
  ConcurrencyLimitV2Input,
  TAG_LIMIT_PREFIX,
  TASK_RUN_HOLDER,
} from './concurrency-limits.types';

const V2_COLUMNS = `id, created, updated, active, name, "limit", active_slots, denied_slots, slot_decay_per_second,
  avg_slot_occupancy_seconds`;
const V1_COLUMNS = `id, created, updated, tag, concurrency_limit, active_slots`;

/** Seconds since the row's last update (decay is measured from it, as upstream). */
const SECONDS_SINCE_UPDATE = `EXTRACT(EPOCH FROM (now() - updated))::float8`;

/** Active slots once `slot_decay_per_second` has been applied (rate limits); plain limits do not decay. */
export const ACTIVE_SLOTS_AFTER_DECAY = `GREATEST(0, active_slots - floor(slot_decay_per_second * ${SECONDS_SINCE_UPDATE}))::int`;

/** Denied slots decay by `slot_decay_per_second`, else by one per `avg_slot_occupancy_seconds` (upstream). */
const DENIED_SLOTS_AFTER_DECAY = `GREATEST(0, denied_slots - floor(
  CASE WHEN slot_decay_per_second > 0 THEN slot_decay_per_second ELSE 1.0 / avg_slot_occupancy_seconds END
  * ${SECONDS_SINCE_UPDATE}))::int`;

/** Samples the occupancy average spans, per slot of the limit (upstream's OCCUPANCY_SAMPLES_MULTIPLIER). */
const OCCUPANCY_SAMPLES_MULTIPLIER = 2;
/** Lower bound of one occupancy sample, so the average never reaches 0 (upstream). */
const MINIMUM_OCCUPANCY_SECONDS_PER_SLOT = 0.1;

/**
 * SQL: which of the task runs `ids` (a uuid[] placeholder) hold a slot, as a text[]: a v2 lease held as
 * `holderType` (a text placeholder) or an id in a v1 limit's `active_slots`. Used by both group probes.
 */
const slotHolders = (ids: string, holderType: string): string =>
  `ARRAY(SELECT holder_id::text FROM concurrency_lease WHERE holder_type = ${holderType} AND holder_id = ANY(${ids}::uuid[])
         UNION SELECT e FROM concurrency_limit, jsonb_array_elements_text(active_slots) e
                      WHERE e = ANY(${ids}::uuid[]::text[]))`;

interface V2Row {
  id: string;
  created: string;
  updated: string;
  active: boolean;
  name: string;
  limit: number;
  active_slots: number;
  denied_slots: number;
  slot_decay_per_second: number;
  avg_slot_occupancy_seconds: number;
}

interface V1Row {
  id: string;
  created: string;
  updated: string;
  tag: string;
  concurrency_limit: number;
  active_slots: string[];
}

/** A v2 limit locked for a slot decision, with its decayed slot count and whether the run already holds it. */
export interface LockedV2Limit {
  id: string;
  name: string;
  active: boolean;
  limit: number;
  currentSlots: number;
  avgSlotOccupancySeconds: number;
  heldByRun: boolean;
}

/**
 * Runs an UPDATE/DELETE … RETURNING and gives its rows. Wrapped in a CTE because TypeORM answers a bare
 * UPDATE/DELETE with `[rows, rowCount]` instead of the rows.
 */
async function changedRows<T>(m: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  return m.query<T[]>(`WITH changed AS (${sql}) SELECT * FROM changed`, params);
}

function toV2(row: V2Row): ConcurrencyLimitV2 {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    active: row.active,
    name: row.name,
    limit: row.limit,
    activeSlots: row.active_slots,
    deniedSlots: row.denied_slots,
    slotDecayPerSecond: Number(row.slot_decay_per_second),
    avgSlotOccupancySeconds: Number(row.avg_slot_occupancy_seconds),
  };
}

function toV1(row: V1Row): ConcurrencyLimitV1 {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    tag: row.tag,
    concurrencyLimit: row.concurrency_limit,
    activeSlots: row.active_slots,
  };
}

/** `{id}` or `{name}`: how v2 routes address a limit. */
export type V2Key = { id: string } | { name: string };

function keyWhere(key: V2Key, param: string): { clause: string; value: string } {
  return 'id' in key
    ? { clause: `id = ${param}`, value: key.id }
    : { clause: `name = ${param}`, value: key.name };
}

const V2_PATCH_COLUMNS: Record<keyof ConcurrencyLimitV2Input, string> = {
  active: 'active',
  name: 'name',
  limit: '"limit"',
  activeSlots: 'active_slots',
  deniedSlots: 'denied_slots',
  slotDecayPerSecond: 'slot_decay_per_second',
};

/**
 * Parameterised SQL over `concurrency_limit`, `concurrency_limit_v2` and `concurrency_lease`. Every method
 * takes the caller's `EntityManager`, so slot changes join the orchestration transaction.
 */
@Injectable()
export class ConcurrencyLimitsRepository {
  // ----- v2 limits -----

  async insertV2(
    m: EntityManager,
    input: ConcurrencyLimitV2Input & { name: string; limit: number },
  ): Promise<ConcurrencyLimitV2> {
    const rows: V2Row[] = await m.query(
      `INSERT INTO concurrency_limit_v2 (active, name, "limit", active_slots, denied_slots, slot_decay_per_second)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${V2_COLUMNS}`,
      [
        input.active ?? true,
        input.name,
        input.limit,
        input.activeSlots ?? 0,
        input.deniedSlots ?? 0,
        input.slotDecayPerSecond ?? 0,
      ],
    );
    return toV2(rows[0]);
  }

  async findV2(m: EntityManager, key: V2Key): Promise<ConcurrencyLimitV2 | null> {
    const { clause, value } = keyWhere(key, '$1');
    const rows: V2Row[] = await m.query(`SELECT ${V2_COLUMNS} FROM concurrency_limit_v2 WHERE ${clause}`, [
      value,
    ]);
    return rows[0] ? toV2(rows[0]) : null;
  }

  /** Ordered by name, as upstream. `tagLimitsOnly` keeps the `tag:<tag>` limits. */
  async listV2(
    m: EntityManager,
    page: { limit: number; offset: number },
    tagLimitsOnly = false,
  ): Promise<ConcurrencyLimitV2[]> {
    const where = tagLimitsOnly ? `WHERE starts_with(name, $3)` : '';
    const params: unknown[] = [page.limit, page.offset];
    if (tagLimitsOnly) {
      params.push(TAG_LIMIT_PREFIX);
    }
    const rows: V2Row[] = await m.query(
      `SELECT ${V2_COLUMNS} FROM concurrency_limit_v2 ${where} ORDER BY name LIMIT $1 OFFSET $2`,
      params,
    );
    return rows.map(toV2);
  }

  /** Applies the set fields; null when no such limit. */
  async updateV2(
    m: EntityManager,
    key: V2Key,
    patch: ConcurrencyLimitV2Input,
  ): Promise<ConcurrencyLimitV2 | null> {
    const sets: string[] = ['updated = now()'];
    const params: unknown[] = [];
    for (const [field, column] of Object.entries(V2_PATCH_COLUMNS) as [
      keyof ConcurrencyLimitV2Input,
      string,
    ][]) {
      const value = patch[field];
      if (value === undefined) {
        continue;
      }
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    }
    const { clause, value } = keyWhere(key, `$${params.length + 1}`);
    params.push(value);
    const rows = await changedRows<V2Row>(
      m,
      `UPDATE concurrency_limit_v2 SET ${sets.join(', ')} WHERE ${clause} RETURNING ${V2_COLUMNS}`,
      params,
    );
    return rows[0] ? toV2(rows[0]) : null;
  }

  /** Deletes the limit (its leases cascade). */
  async deleteV2(m: EntityManager, key: V2Key): Promise<boolean> {
    const { clause, value } = keyWhere(key, '$1');
    const rows = await changedRows(m, `DELETE FROM concurrency_limit_v2 WHERE ${clause} RETURNING id`, [
      value,
    ]);
    return rows.length > 0;
  }

  // ----- leases -----

  /** The task runs holding a lease on each limit, oldest lease first. */
  async taskRunHolders(m: EntityManager, limitIds: string[]): Promise<Map<string, string[]>> {
    const holders = new Map<string, string[]>(limitIds.map((id) => [id, []]));
    if (!limitIds.length) {
      return holders;
    }
    const rows: { limit_id: string; holder_id: string }[] = await m.query(
      `SELECT limit_id, holder_id FROM concurrency_lease
       WHERE limit_id = ANY($1::uuid[]) AND holder_type = $2 ORDER BY created, id`,
      [limitIds, TASK_RUN_HOLDER],
    );
    for (const row of rows) {
      holders.get(row.limit_id)?.push(row.holder_id);
    }
    return holders;
  }

  /** Replaces the limit's leases with one per given task run and sets its slot count to match. */
  async replaceTaskRunLeases(m: EntityManager, limitId: string, taskRunIds: string[]): Promise<void> {
    await m.query(`SELECT id FROM concurrency_limit_v2 WHERE id = $1 FOR UPDATE`, [limitId]);
    await m.query(`DELETE FROM concurrency_lease WHERE limit_id = $1`, [limitId]);
    if (taskRunIds.length) {
      await m.query(
        `INSERT INTO concurrency_lease (limit_id, holder_type, holder_id)
         SELECT $1, $2, h FROM unnest($3::uuid[]) AS h ON CONFLICT DO NOTHING`,
        [limitId, TASK_RUN_HOLDER, taskRunIds],
      );
    }
    await m.query(
      `UPDATE concurrency_limit_v2 SET active_slots = (SELECT count(*) FROM concurrency_lease WHERE limit_id = $1),
       updated = now() WHERE id = $1`,
      [limitId],
    );
  }

  /**
   * Locks the named v2 limits in name order (a fixed order, so concurrent transactions cannot deadlock) and
   * reads their decayed slot counts and whether `taskRunId` already holds a lease on each.
   */
  async lockV2ByNames(m: EntityManager, names: string[], taskRunId: string): Promise<LockedV2Limit[]> {
    if (!names.length) {
      return [];
    }
    const rows: {
      id: string;
      name: string;
      active: boolean;
      limit: number;
      current_slots: number;
      avg_slot_occupancy_seconds: number;
      held: boolean;
    }[] = await m.query(
      `SELECT v.id, v.name, v.active, v."limit", ${ACTIVE_SLOTS_AFTER_DECAY} AS current_slots,
              v.avg_slot_occupancy_seconds,
              EXISTS (SELECT 1 FROM concurrency_lease l
                      WHERE l.limit_id = v.id AND l.holder_type = $2 AND l.holder_id = $3) AS held
       FROM concurrency_limit_v2 v WHERE v.name = ANY($1::text[]) ORDER BY v.name FOR UPDATE`,
      [names, TASK_RUN_HOLDER, taskRunId],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      active: r.active,
      limit: r.limit,
      currentSlots: r.current_slots,
      avgSlotOccupancySeconds: Number(r.avg_slot_occupancy_seconds),
      heldByRun: r.held,
    }));
  }

  /** +1 slot on each limit (already locked by the caller) and a lease for the task run on each. */
  async takeV2Slots(m: EntityManager, limitIds: string[], taskRunId: string): Promise<void> {
    if (!limitIds.length) {
      return;
    }
    await m.query(
      `WITH taken AS (
         UPDATE concurrency_limit_v2 SET active_slots = ${ACTIVE_SLOTS_AFTER_DECAY} + 1,
           denied_slots = ${DENIED_SLOTS_AFTER_DECAY}, updated = now()
         WHERE id = ANY($1::uuid[]) RETURNING id)
       INSERT INTO concurrency_lease (limit_id, holder_type, holder_id)
       SELECT id, $2, $3 FROM taken ON CONFLICT DO NOTHING`,
      [limitIds, TASK_RUN_HOLDER, taskRunId],
    );
  }

  /**
   * Gives back the task run's leases (all of them, or those on `limitIds`) and their slots. Locks the limits in
   * name order first. With `recordOccupancy`, the time each lease was held feeds the limit's
   * `avg_slot_occupancy_seconds` (a moving average over `limit × 2` samples, as upstream).
   */
  async releaseV2Leases(
    m: EntityManager,
    taskRunId: string,
    opts: { limitIds?: string[]; recordOccupancy: boolean },
  ): Promise<number> {
    const only = opts.limitIds ? `AND limit_id = ANY($3::uuid[])` : '';
    const params: unknown[] = [TASK_RUN_HOLDER, taskRunId];
    if (opts.limitIds) {
      params.push(opts.limitIds);
    }
    const locked: unknown[] = await m.query(
      `SELECT id FROM concurrency_limit_v2 WHERE id IN (
         SELECT limit_id FROM concurrency_lease WHERE holder_type = $1 AND holder_id = $2 ${only})
       ORDER BY name FOR UPDATE`,
      params,
    );
    if (!locked.length) {
      return 0;
    }
    const avg = opts.recordOccupancy
      ? `, avg_slot_occupancy_seconds = CASE WHEN "limit" > 0
           THEN avg_slot_occupancy_seconds + (gone.per_slot - avg_slot_occupancy_seconds)
             / ("limit" * ${OCCUPANCY_SAMPLES_MULTIPLIER})
           ELSE avg_slot_occupancy_seconds END`
      : '';
    const [{ released }] = await m.query<{ released: number }[]>(
      `WITH gone AS (
         DELETE FROM concurrency_lease WHERE holder_type = $1 AND holder_id = $2 ${only}
         RETURNING limit_id, slots, GREATEST(EXTRACT(EPOCH FROM (now() - created))::float8 / GREATEST(slots, 1),
           ${MINIMUM_OCCUPANCY_SECONDS_PER_SLOT}) AS per_slot),
       freed AS (
         UPDATE concurrency_limit_v2 SET active_slots = GREATEST(0, ${ACTIVE_SLOTS_AFTER_DECAY} - gone.slots),
           denied_slots = ${DENIED_SLOTS_AFTER_DECAY}, updated = now() ${avg}
         FROM gone WHERE concurrency_limit_v2.id = gone.limit_id RETURNING concurrency_limit_v2.id)
       SELECT count(*)::int AS released FROM freed`,
      params,
    );
    return released;
  }

  /** One probe: does the task run hold a v2 lease, and a place in the v1 limits of these tags? */
  /** For a group commit: which of these tags have a v1 or v2 limit, and which of these runs hold any slot. */
  async groupSlotProbe(
    m: EntityManager,
    tags: string[],
    v2Names: string[],
    taskRunIds: string[],
  ): Promise<{ limitedTags: string[]; holders: string[] }> {
    const [row] = await m.query<{ limited: string[]; holders: string[] }[]>(
      `SELECT ARRAY(SELECT tag FROM concurrency_limit WHERE tag = ANY($1::text[])
                    UNION SELECT t.tag FROM unnest($1::text[], $2::text[]) AS t(tag, name)
                                      JOIN concurrency_limit_v2 v ON v.name = t.name) AS limited,
              ${slotHolders('$4', '$3')} AS holders`,
      [tags, v2Names, TASK_RUN_HOLDER, taskRunIds],
    );
    return { limitedTags: row?.limited ?? [], holders: row?.holders ?? [] };
  }

  /**
   * `groupSlotProbe` for the runs under these ids, their tags read from their rows in the same statement: sent
   * right behind the statement that locks those rows (one round trip; PostgreSQL runs it once the locks are
   * held), see `ConcurrencySlotsService.prepareGroupByIds`.
   */
  async groupSlotProbeByIds(
    m: EntityManager,
    taskRunIds: string[],
  ): Promise<{ limitedTags: string[]; holders: string[] }> {
    const [row] = await preparedQuery<{ limited: string[]; holders: string[] }>(
      m,
      'concurrency_group_slot_probe_ids',
      `WITH t AS (SELECT DISTINCT e.tag FROM task_run r, jsonb_array_elements_text(r.tags) AS e(tag)
                  WHERE r.id = ANY($1::uuid[]))
       SELECT ARRAY(SELECT tag FROM concurrency_limit WHERE tag IN (SELECT tag FROM t)
                    UNION SELECT t.tag FROM t JOIN concurrency_limit_v2 v ON v.name = $3::text || t.tag) AS limited,
              ${slotHolders('$1', '$2')} AS holders`,
      [taskRunIds, TASK_RUN_HOLDER, TAG_LIMIT_PREFIX],
    );
    return { limitedTags: row?.limited ?? [], holders: row?.holders ?? [] };
  }

  async heldSlots(
    m: EntityManager,
    taskRunId: string,
    tags: string[],
  ): Promise<{ v2: boolean; v1: boolean }> {
    const [row] = await m.query<{ v2: boolean; v1: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM concurrency_lease WHERE holder_type = $1 AND holder_id = $2) AS v2,
              EXISTS (SELECT 1 FROM concurrency_limit WHERE tag = ANY($3::text[])
                      AND active_slots @> jsonb_build_array($2::text)) AS v1`,
      [TASK_RUN_HOLDER, taskRunId, tags],
    );
    return { v2: row?.v2 ?? false, v1: row?.v1 ?? false };
  }

  // ----- v1 limits -----

  async findV1ById(m: EntityManager, id: string): Promise<ConcurrencyLimitV1 | null> {
    const rows: V1Row[] = await m.query(`SELECT ${V1_COLUMNS} FROM concurrency_limit WHERE id = $1`, [id]);
    return rows[0] ? toV1(rows[0]) : null;
  }

  async findV1ByTag(m: EntityManager, tag: string): Promise<ConcurrencyLimitV1 | null> {
    const rows: V1Row[] = await m.query(`SELECT ${V1_COLUMNS} FROM concurrency_limit WHERE tag = $1`, [tag]);
    return rows[0] ? toV1(rows[0]) : null;
  }

  /** Ordered by tag. */
  async listV1(m: EntityManager, page: { limit: number; offset: number }): Promise<ConcurrencyLimitV1[]> {
    const rows: V1Row[] = await m.query(
      `SELECT ${V1_COLUMNS} FROM concurrency_limit ORDER BY tag LIMIT $1 OFFSET $2`,
      [page.limit, page.offset],
    );
    return rows.map(toV1);
  }

  /** Inserts or replaces the limit of a tag (legacy rows; the API creates v2 `tag:` limits). */
  async upsertV1(m: EntityManager, tag: string, concurrencyLimit: number): Promise<ConcurrencyLimitV1> {
    const rows: V1Row[] = await m.query(
      `INSERT INTO concurrency_limit (tag, concurrency_limit) VALUES ($1, $2)
       ON CONFLICT (tag) DO UPDATE SET concurrency_limit = EXCLUDED.concurrency_limit, updated = now()
       RETURNING ${V1_COLUMNS}`,
      [tag, concurrencyLimit],
    );
    return toV1(rows[0]);
  }

  async deleteV1(m: EntityManager, key: { id: string } | { tag: string }): Promise<boolean> {
    const [clause, value] = 'id' in key ? ['id = $1', key.id] : ['tag = $1', key.tag];
    const rows = await changedRows(m, `DELETE FROM concurrency_limit WHERE ${clause} RETURNING id`, [value]);
    return rows.length > 0;
  }

  /** Sets the tag's holders; false when the tag has no v1 limit. */
  async resetV1(m: EntityManager, tag: string, taskRunIds: string[]): Promise<boolean> {
    const rows = await changedRows(
      m,
      `UPDATE concurrency_limit SET active_slots = $2::jsonb, updated = now() WHERE tag = $1 RETURNING id`,
      [tag, JSON.stringify([...new Set(taskRunIds)])],
    );
    return rows.length > 0;
  }

  /** Locks the v1 limits of these tags in tag order. */
  async lockV1ByTags(m: EntityManager, tags: string[]): Promise<ConcurrencyLimitV1[]> {
    if (!tags.length) {
      return [];
    }
    const rows: V1Row[] = await m.query(
      `SELECT ${V1_COLUMNS} FROM concurrency_limit WHERE tag = ANY($1::text[]) ORDER BY tag FOR UPDATE`,
      [tags],
    );
    return rows.map(toV1);
  }

  /** Adds the run to the holders of these tags' v1 limits (a set: never twice). */
  async addV1Holder(m: EntityManager, tags: string[], taskRunId: string): Promise<void> {
    if (!tags.length) {
      return;
    }
    await m.query(
      `UPDATE concurrency_limit SET active_slots = active_slots || jsonb_build_array($2::text), updated = now()
       WHERE tag = ANY($1::text[]) AND NOT active_slots @> jsonb_build_array($2::text)`,
      [tags, taskRunId],
    );
  }

  /** Removes the run from the holders of these tags' v1 limits, locking the affected rows in tag order. */
  async removeV1Holder(m: EntityManager, tags: string[], taskRunId: string): Promise<number> {
    if (!tags.length) {
      return 0;
    }
    const locked: unknown[] = await m.query(
      `SELECT id FROM concurrency_limit WHERE tag = ANY($1::text[]) AND active_slots @> jsonb_build_array($2::text)
       ORDER BY tag FOR UPDATE`,
      [tags, taskRunId],
    );
    if (!locked.length) {
      return 0;
    }
    await m.query(
      `UPDATE concurrency_limit SET active_slots = active_slots - $2::text, updated = now()
       WHERE tag = ANY($1::text[]) AND active_slots @> jsonb_build_array($2::text)`,
      [tags, taskRunId],
    );
    return locked.length;
  }
}
