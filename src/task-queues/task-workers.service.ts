import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { REPLICA_ID } from './replica-id';

export interface TaskWorker {
  identifier: string;
  taskKeys: string[];
  /** Last seen, canonical µs timestamp. */
  timestamp: string;
}

/** How often this replica refreshes the `last_seen` of its connected workers. */
export const WORKER_HEARTBEAT_MS = 1000;
/** A worker row not refreshed for this long belongs to a replica that died: it is no longer listed. */
export const WORKER_STALE_SECONDS = 5;

interface LocalWorker {
  keys: Set<string>;
  sessions: Set<symbol>;
  dirty: boolean;
}

/**
 * The task-worker tracker (docs/reference.md §1.6), shared by every replica through the `task_worker` table: one row per
 * (replica, worker id) with the worker's keys, written when a worker appears or gains keys, refreshed by a
 * heartbeat while its socket is open, deleted when its last socket on this replica closes. Unlike upstream
 * (which forgets a worker on every loop iteration) a connected worker is always listed.
 */
@Injectable()
export class TaskWorkersService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskWorkersService.name);
  private readonly local = new Map<string, LocalWorker>();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private lastCleanup = 0;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(REPLICA_ID) private readonly replicaId: string,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.beating) {
        return;
      }
      this.beating = this.heartbeat()
        .catch((e: unknown) => this.logger.warn({ msg: 'task worker heartbeat failed', error: String(e) }))
        .finally(() => (this.beating = undefined));
    }, WORKER_HEARTBEAT_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    this.local.clear();
    await this.dataSource
      .query(`DELETE FROM task_worker WHERE replica_id = $1`, [this.replicaId])
      .catch((e: unknown) => this.logger.warn({ msg: 'could not forget task workers', error: String(e) }));
  }

  /** Records that `identifier` (one of its sockets: `session`) listens for `keys`. */
  async observe(session: symbol, identifier: string, keys: readonly string[]): Promise<void> {
    let worker = this.local.get(identifier);
    if (!worker) {
      worker = { keys: new Set(), sessions: new Set(), dirty: true };
      this.local.set(identifier, worker);
    }
    worker.sessions.add(session);
    for (const key of keys) {
      if (!worker.keys.has(key)) {
        worker.keys.add(key);
        worker.dirty = true;
      }
    }
    if (worker.dirty) {
      worker.dirty = false;
      await this.upsert(identifier, [...worker.keys]);
    }
  }

  /** Forgets one socket of a worker; the worker disappears with its last socket on this replica. */
  async forget(session: symbol, identifier: string): Promise<void> {
    const worker = this.local.get(identifier);
    if (!worker) {
      return;
    }
    worker.sessions.delete(session);
    if (worker.sessions.size > 0) {
      return;
    }
    this.local.delete(identifier);
    await this.dataSource.query(`DELETE FROM task_worker WHERE replica_id = $1 AND identifier = $2`, [
      this.replicaId,
      identifier,
    ]);
  }

  /** Workers seen recently on any replica; with `taskKeys`, those listening for any of them. */
  async list(taskKeys?: readonly string[]): Promise<TaskWorker[]> {
    const rows: { identifier: string; task_keys: string[]; timestamp: string }[] =
      await this.dataSource.query(
        `SELECT w.identifier,
         array_agg(DISTINCT k.key ORDER BY k.key) AS task_keys,
         to_char(max(w.last_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS timestamp
       FROM task_worker w CROSS JOIN LATERAL unnest(w.task_keys) AS k(key)
       WHERE w.last_seen > clock_timestamp() - make_interval(secs => $1)
       GROUP BY w.identifier
       HAVING $2::text[] IS NULL OR bool_or(k.key = ANY($2::text[]))
       ORDER BY w.identifier`,
        [WORKER_STALE_SECONDS, taskKeys?.length ? taskKeys : null],
      );
    return rows.map((r) => ({ identifier: r.identifier, taskKeys: r.task_keys, timestamp: r.timestamp }));
  }

  private async upsert(identifier: string, keys: string[]): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO task_worker (replica_id, identifier, task_keys, last_seen) VALUES ($1, $2, $3, clock_timestamp())
       ON CONFLICT (replica_id, identifier) DO UPDATE SET task_keys = EXCLUDED.task_keys, last_seen = EXCLUDED.last_seen`,
      [this.replicaId, identifier, keys],
    );
  }

  private async heartbeat(): Promise<void> {
    if (this.local.size > 0) {
      await this.dataSource.query(
        `INSERT INTO task_worker (replica_id, identifier, task_keys, last_seen)
         SELECT $1, w.identifier, ARRAY(SELECT jsonb_array_elements_text(w.keys)), clock_timestamp()
         FROM jsonb_to_recordset($2::jsonb) AS w(identifier text, keys jsonb)
         ON CONFLICT (replica_id, identifier) DO UPDATE SET task_keys = EXCLUDED.task_keys, last_seen = EXCLUDED.last_seen`,
        [
          this.replicaId,
          JSON.stringify([...this.local].map(([identifier, w]) => ({ identifier, keys: [...w.keys] }))),
        ],
      );
    }
    // Rows of replicas that died long ago.
    if (Date.now() - this.lastCleanup < 60_000) {
      return;
    }
    this.lastCleanup = Date.now();
    await this.dataSource.query(
      `DELETE FROM task_worker WHERE last_seen < clock_timestamp() - interval '1 hour'`,
    );
  }
}
