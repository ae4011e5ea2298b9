import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '../../common/errors/domain.error';
import { Clock } from '../../common/time/clock';
import { DeadLetterEntity } from './dead-letter.entity';

export type ReplayHandler = (payload: unknown) => Promise<void>;

export interface DeadLetterInput {
  payload: unknown;
  attempts: number;
}

export interface DeadLetterQuery {
  source?: string;
  includeReplayed?: boolean;
  limit: number;
  offset: number;
}

/**
 * The dead-letter table: services `record` what they gave up on; operators list and `replay` it. Each source
 * registers a replay handler (e.g. the persister re-buffers the event) when it starts.
 */
@Injectable()
export class DeadLettersService {
  private readonly logger = new Logger(DeadLettersService.name);
  private readonly handlers = new Map<string, ReplayHandler>();

  constructor(
    @InjectRepository(DeadLetterEntity) private readonly repo: Repository<DeadLetterEntity>,
    private readonly clock: Clock,
  ) {}

  registerReplayHandler(source: string, handler: ReplayHandler): void {
    this.handlers.set(source, handler);
  }

  /** Stores one row per payload in a single INSERT. Throws if the database cannot take them. */
  async record(source: string, reason: string, items: DeadLetterInput[]): Promise<void> {
    if (!items.length) {
      return;
    }
    await this.repo
      .createQueryBuilder()
      .insert()
      .values(
        items.map((item) => ({
          source,
          reason: reason.slice(0, 10_000),
          attempts: item.attempts,
          payload: item.payload as object,
        })),
      )
      .execute();
    this.logger.warn({ msg: 'dead-lettered', source, count: items.length, reason: reason.slice(0, 500) });
  }

  async list(query: DeadLetterQuery): Promise<DeadLetterEntity[]> {
    const qb = this.repo
      .createQueryBuilder('d')
      .orderBy('d.created', 'DESC')
      .addOrderBy('d.id')
      .limit(query.limit)
      .offset(query.offset);
    if (query.source) {
      qb.andWhere('d.source = :source', { source: query.source });
    }
    if (!query.includeReplayed) {
      qb.andWhere('d.replayed_at IS NULL');
    }
    return qb.getMany();
  }

  async count(source?: string): Promise<number> {
    return this.repo.count({ where: source ? { source } : {} });
  }

  /** Dead letters not yet replayed, per source (for metrics). */
  async countBySource(): Promise<{ source: string; count: number }[]> {
    const rows: { source: string; count: string | number }[] = await this.repo
      .createQueryBuilder('d')
      .select('d.source', 'source')
      .addSelect('count(*)', 'count')
      .where('d.replayed_at IS NULL')
      .groupBy('d.source')
      .getRawMany();
    return rows.map((r) => ({ source: r.source, count: Number(r.count) }));
  }

  async get(id: string): Promise<DeadLetterEntity> {
    const letter = await this.repo.findOneBy({ id });
    if (!letter) {
      throw new NotFoundError('Dead letter not found');
    }
    return letter;
  }

  /**
   * Hands the payload back to its source and marks the letter replayed, when this process runs the letter's
   * service. Otherwise (e.g. on an API replica with SERVER_RUN_SERVICES=false) it records the request, and the
   * `DeadLetterReplayer` of the process that runs the service carries it out: the letter comes back with
   * `replayRequestedAt` set and `replayedAt` still null.
   */
  async replay(id: string): Promise<DeadLetterEntity> {
    const letter = await this.get(id);
    if (letter.replayedAt) {
      throw new ConflictError(`Dead letter ${id} was already replayed at ${letter.replayedAt}`);
    }
    const handler = this.handlers.get(letter.source);
    if (!handler) {
      const now = this.clock.now();
      await this.repo
        .createQueryBuilder()
        .update()
        .set({ replayRequestedAt: () => 'COALESCE(replay_requested_at, :now)', updated: now })
        .where('id = :id AND replayed_at IS NULL', { id, now })
        .execute();
      return this.get(id);
    }
    await handler(letter.payload);
    const now = this.clock.now();
    await this.repo.update({ id }, { replayedAt: now, updated: now });
    return { ...letter, replayedAt: now, updated: now };
  }

  /**
   * Carries out up to `limit` replays requested elsewhere for the sources this process handles (rows locked
   * with SKIP LOCKED, so two services processes never replay one letter twice). A replay that fails clears
   * the request and puts the error in front of the reason. Returns how many letters it looked at.
   */
  async replayRequested(limit: number): Promise<number> {
    const sources = [...this.handlers.keys()];
    if (!sources.length) {
      return 0;
    }
    return this.repo.manager.transaction(async (em) => {
      const letters = await em
        .createQueryBuilder(DeadLetterEntity, 'd')
        .where('d.replay_requested_at IS NOT NULL AND d.replayed_at IS NULL AND d.source IN (:...sources)', {
          sources,
        })
        .orderBy('d.replay_requested_at')
        .limit(limit)
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getMany();
      for (const letter of letters) {
        const handler = this.handlers.get(letter.source)!;
        const now = this.clock.now();
        try {
          await handler(letter.payload);
          await em.update(DeadLetterEntity, { id: letter.id }, { replayedAt: now, updated: now });
          this.logger.log({ msg: 'dead letter replayed', id: letter.id, source: letter.source });
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          await em.update(
            DeadLetterEntity,
            { id: letter.id },
            {
              replayRequestedAt: null,
              updated: now,
              reason: `replay failed: ${error}; before: ${letter.reason}`.slice(0, 10_000),
            },
          );
          this.logger.warn({ msg: 'dead letter replay failed', id: letter.id, source: letter.source, error });
        }
      }
      return letters.length;
    });
  }
}
