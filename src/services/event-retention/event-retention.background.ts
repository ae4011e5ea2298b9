import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { LoopService } from '../../background/loop-service';
import { BackgroundService } from '../../background/managed-service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { Clock } from '../../common/time/clock';
import { fromMicros } from '../../common/time/timestamp';
import { AppConfig } from '../../config/app-config';
import { EventsRepository } from '../../events/events.repository';

export interface RetentionRun {
  events: number;
  resources: number;
  /** Delete statements issued (each one short transaction of at most `batchSize` rows per table). */
  batches: number;
}

const DELETE_OLD_RESOURCES = `
WITH d AS (
  DELETE FROM event_resources WHERE id IN (SELECT id FROM event_resources WHERE occurred < $1::timestamptz LIMIT $2)
  RETURNING 1)
SELECT count(*)::int AS events, 0 AS resources FROM d`;

const DELETE_OLD_EVENTS = `
WITH d AS (
  DELETE FROM events WHERE id IN (SELECT id FROM events WHERE occurred < $1::timestamptz LIMIT $2)
  RETURNING 1)
SELECT count(*)::int AS events, 0 AS resources FROM d`;

/** One event type's old events and their resource rows, in one statement (one short transaction). */
const DELETE_OLD_EVENTS_OF_TYPE = `
WITH doomed AS (
  SELECT id FROM events WHERE event = $3 AND occurred < $1::timestamptz LIMIT $2
), r AS (
  DELETE FROM event_resources WHERE event_id IN (SELECT id FROM doomed) RETURNING 1
), e AS (
  DELETE FROM events WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*)::int FROM e) AS events, (SELECT count(*)::int FROM r) AS resources`;

/**
 * Event retention (docs/reference.md §5.4 "Retention", upstream's db_vacuum for events): deletes `event_resources` and
 * `events` older than `PREFECT_SERVER_EVENTS_RETENTION_PERIOD`, and, per event type in
 * `…_DB_VACUUM_EVENT_RETENTION_OVERRIDES`, older than `min(override, retention)`. Deletes go in bounded
 * batches (`DELETE … WHERE id IN (SELECT id … LIMIT n)`, `…_DB_VACUUM_BATCH_SIZE` rows, each its own short
 * transaction) until nothing is left, so a huge backlog never holds a long transaction or times out.
 */
@BackgroundService({
  name: 'EventRetention',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_DB_VACUUM',
  description: 'Deletes events older than the retention period, in bounded batches.',
})
@Injectable()
export class EventRetentionService extends LoopService {
  protected readonly logger = new Logger(EventRetentionService.name);
  private readonly deleted: Counter<'table'>;
  lastRun?: RetentionRun;

  constructor(
    private readonly repository: EventsRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    metrics: MetricsService,
  ) {
    super();
    this.deleted = metrics.counter(
      'prefect_event_retention_deleted_total',
      'Rows deleted by event retention',
      ['table'],
    );
  }

  protected loopSeconds(): number {
    return this.config.dbVacuum.loopSeconds;
  }

  async runOnce(): Promise<void> {
    await this.vacuum();
  }

  /** One full pass; returns what it deleted. */
  async vacuum(): Promise<RetentionRun> {
    const run: RetentionRun = { events: 0, resources: 0, batches: 0 };
    const now = this.clock.nowMicros();
    const retention = this.config.events.retentionPeriod;
    const cutoff = fromMicros(now - Math.round(retention * 1e6));

    await this.drainBatches(DELETE_OLD_RESOURCES, [cutoff], run, 'resources');
    await this.drainBatches(DELETE_OLD_EVENTS, [cutoff], run, 'events');
    for (const [event, seconds] of Object.entries(this.config.dbVacuum.eventRetentionOverrides)) {
      const effective = Math.min(seconds, retention);
      if (effective >= retention) {
        continue;
      } // the global pass already covers it
      const typeCutoff = fromMicros(now - Math.round(effective * 1e6));
      await this.drainBatches(DELETE_OLD_EVENTS_OF_TYPE, [typeCutoff, undefined, event], run);
    }
    this.lastRun = run;
    if (run.events || run.resources) {
      this.logger.log({ msg: 'old events deleted', ...run });
    }
    return run;
  }

  /** Repeats one bounded delete until it deletes fewer rows than a batch (or the service is stopping). */
  private async drainBatches(
    sql: string,
    params: unknown[],
    run: RetentionRun,
    countAs?: 'events' | 'resources',
  ): Promise<void> {
    const batchSize = this.config.dbVacuum.batchSize;
    const args = [...params];
    args[1] = batchSize;
    for (;;) {
      const [row] = await this.repository.query<{ events: number; resources: number }>(sql, args);
      run.batches += 1;
      const events = countAs === 'resources' ? 0 : Number(row.events);
      const resources = countAs === 'resources' ? Number(row.events) : Number(row.resources);
      run.events += events;
      run.resources += resources;
      if (events) {
        this.deleted.inc({ table: 'events' }, events);
      }
      if (resources) {
        this.deleted.inc({ table: 'event_resources' }, resources);
      }
      if ((countAs === 'resources' ? resources : events) < batchSize) {
        return;
      }
      if (this.status === 'stopping') {
        return;
      }
    }
  }
}
