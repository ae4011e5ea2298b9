import { randomUUID } from 'node:crypto';
import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ConflictError, NotFoundError, ObjectNotFoundError } from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import { generateRunName } from '../common/names/run-name';
import { Clock } from '../common/time/clock';
import { fromMicros, normalizeTimestamp, toMicros } from '../common/time/timestamp';
import { AppConfig } from '../config/app-config';
import { FlowRunsService } from '../flow-runs/flow-runs.service';
import { stateFromCreate } from '../orchestration/dto/state-create.mapper';
import { TaskOrchestrationContext } from '../orchestration/orchestration-context';
import { orchestrate } from '../orchestration/orchestration.engine';
import type {
  OrchestratedRun,
  OrchestrationResult,
  OrchestrationState,
  TaskRunPolicy,
} from '../orchestration/orchestration.types';
import { OrchestrationPolicy, type TransitionRequest } from '../orchestration/policies/orchestration-policy';
import { normalizeTaskRunPolicy } from '../orchestration/state-factory';
import { QueueItem, TaskQueueKind, TaskQueueStore } from '../task-queues/task-queue.store';
import type { TaskRunResponse } from './dto/task-run.response';
import type { CreateTaskRunDto, SetTaskRunStateDto, UpdateTaskRunDto } from './dto/task-runs.dto';
import { GroupCommit, Outcome } from './group-commit';
import { BufferedWritePorts, StateTimestampConflict } from './task-run-orchestration.ports';
import {
  applyOrchestratedRun,
  TaskRunRow,
  toOrchestratedRun,
  toStateJson,
  toTaskRunJson,
} from './task-run.mapper';
import {
  PipelinedTransaction,
  RunInsert,
  RunsAlreadyExist,
  settleAll,
  TaskRunsRepository,
  TransitionWrite,
} from './task-runs.repository';

export type TaskRunJson = TaskRunResponse;

const TASK_NOT_FOUND = 'Task not found';

/** Groups written at once, items per group, items waiting (bounded: 429 past it). See docs/performance.md. */
const GROUP_MAX_BATCH = 64;
const GROUP_MAX_IN_FLIGHT = 2;
const GROUP_MAX_QUEUED = 4096;

/** Create found, after its pre-check, that another writer took the natural key first. */
class CreateRaceLost extends Error {}
/** An optimistic group insert (no pre-check) met an existing natural key: redo the group with the pre-check. */
class NeedsPrecheck extends Error {}

interface CreateItem {
  dto: CreateTaskRunDto;
  policy: TaskRunPolicy;
  /** The new run's id (the client's, or a new UUID). */
  id: string;
}
export interface CreateOutcome {
  taskRun: TaskRunJson;
  created: boolean;
}
interface TransitionItem {
  id: string;
  dto: SetTaskRunStateDto;
}
export interface TransitionOutcome {
  result: OrchestrationResult;
  created: boolean;
}

const naturalKeyOf = (dto: CreateTaskRunDto): string =>
  JSON.stringify([dto.flow_run_id ?? null, dto.task_key, dto.dynamic_key]);

/**
 * Task runs: idempotent create, reads, updates, deletes, and state changes through the injected orchestration
 * policy. Creates and state changes are group-committed (GroupCommit): concurrent requests share one transaction
 * and set-based statements, each answered from its own row; a group that fails is split and each request retried
 * alone, so one bad request never fails its neighbours. Every statement goes through TaskRunsRepository; lists and
 * aggregates live in TaskRunQueriesService.
 */
@Injectable()
export class TaskRunsService {
  private readonly repo: TaskRunsRepository;
  readonly creates: GroupCommit<CreateItem, CreateOutcome>;
  readonly transitions: GroupCommit<TransitionItem, TransitionOutcome>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly policy: OrchestrationPolicy,
    private readonly flowRuns: FlowRunsService,
    @Optional() private readonly taskQueue?: TaskQueueStore,
    @Optional() repository?: TaskRunsRepository,
  ) {
    this.repo = repository ?? new TaskRunsRepository(dataSource);
    this.creates = new GroupCommit({
      name: 'task-run creates',
      maxBatch: GROUP_MAX_BATCH,
      maxInFlight: GROUP_MAX_IN_FLIGHT,
      maxQueued: GROUP_MAX_QUEUED,
      run: (items) => this.createGroup(items),
    });
    this.transitions = new GroupCommit({
      name: 'task-run state changes',
      maxBatch: GROUP_MAX_BATCH,
      maxInFlight: GROUP_MAX_IN_FLIGHT,
      maxQueued: GROUP_MAX_QUEUED,
      key: (item) => item.id,
      run: (items) => this.transitionGroup(items, 0),
    });
  }

  // ---------------------------------------------------------------- create / read / update / delete

  /**
   * `POST /task_runs/`: 201 (`created`) for a new run, 200 with the existing run for a known natural key.
   * Validated here, then written with the other creates of its group (see `createGroup`).
   */
  createTaskRun(dto: CreateTaskRunDto): Promise<CreateOutcome> {
    const policy = this.validateCreate(dto);
    return this.creates.submit({ dto, policy, id: dto.id ?? randomUUID() });
  }

  /**
   * One group of creates in one transaction; on failure each create is retried alone (isolating the bad one).
   * A lone create that lost the natural key to a concurrent writer answers 200 with the winner's run.
   */
  private async createGroup(items: CreateItem[]): Promise<Outcome<CreateOutcome>[]> {
    try {
      try {
        return await this.repo.transaction((em, tx) => this.createInTransaction(em, tx, items, false));
      } catch (err) {
        if (!(err instanceof NeedsPrecheck)) {
          throw err;
        }
        return await this.repo.transaction((em, tx) => this.createInTransaction(em, tx, items, true));
      }
    } catch (err) {
      if (items.length > 1) {
        return Promise.all(items.map(async (item) => (await this.createGroup([item]))[0]));
      }
      if (!(err instanceof CreateRaceLost)) {
        return [{ ok: false, error: err }];
      }
      const { dto } = items[0];
      const [existing] = await this.repo.findByNaturalKeys(this.repo.manager, [
        { flow_run_id: dto.flow_run_id ?? null, task_key: dto.task_key, dynamic_key: dto.dynamic_key },
      ]);
      if (!existing) {
        return [
          { ok: false, error: new ConflictError('The task run was deleted while it was being created.') },
        ];
      }
      return [
        { ok: true, value: { taskRun: toTaskRunJson(existing, this.clock.nowMicros()), created: false } },
      ];
    }
  }

  /**
   * In one transaction: the initial state of every new run is orchestrated in memory (Minimal, or Background
   * when deferred; rules that own persistence use the transaction); one statement inserts the runs, states,
   * artifacts and cache rows; deferred SCHEDULED runs are enqueued in the same transaction. A repeated key within
   * the group answers 200 with the first one's run. Optimistic first (`precheck` false): when a natural key
   * turns out to exist, the transaction rolls back (so no rule's write applies to someone else's run) and the
   * group runs again with `precheck`: one SELECT finds the existing keys, which answer 200 with the stored run.
   */
  private async createInTransaction(
    em: EntityManager,
    tx: PipelinedTransaction,
    items: CreateItem[],
    precheck: boolean,
  ): Promise<Outcome<CreateOutcome>[]> {
    const leaders = new Map<string, number>();
    items.forEach((item, i) => {
      const k = naturalKeyOf(item.dto);
      if (!leaders.has(k)) {
        leaders.set(k, i);
      }
    });
    const leaderItems = [...leaders.values()].map((i) => items[i]);
    const lockKeys = () =>
      this.repo.lockKeysWithoutFlowRun(
        em,
        leaderItems.map(({ dto }) => ({
          flowRunId: dto.flow_run_id ?? null,
          taskKey: dto.task_key,
          dynamicKey: dto.dynamic_key,
        })),
      );
    // Round trip 1, with the BEGIN (the connection is pipelined): the tag-limit probe; with `precheck`, first the
    // natural-key locks, then (held) the SELECT of the existing keys.
    const [, existingRows] = await settleAll<[void, TaskRunRow[], void]>([
      precheck ? lockKeys() : Promise.resolve(),
      precheck
        ? this.repo.findByNaturalKeys(
            em,
            leaderItems.map(({ dto }) => ({
              flow_run_id: dto.flow_run_id ?? null,
              task_key: dto.task_key,
              dynamic_key: dto.dynamic_key,
            })),
          )
        : Promise.resolve([]),
      this.policy.prepareGroup(
        em,
        leaderItems.map((item) => ({ id: item.id, tags: item.dto.tags ?? [], fresh: item.dto.id == null })),
      ),
    ]);
    const existing = new Map(
      existingRows.map((r) => [JSON.stringify([r.flow_run_id, r.task_key, r.dynamic_key]), r]),
    );
    const fresh = [...leaders].filter(([k]) => !existing.has(k)).map(([, index]) => index);
    const planned: { index: number; insert: RunInsert; ctx: TaskOrchestrationContext }[] = [];
    for (const index of fresh) {
      planned.push({ ...(await this.planCreate(em, items[index])), index });
    }
    // Round trip 2: the natural-key locks (optimistic path), the one INSERT statement (all or nothing: a key that
    // exists fails it) and, unless a run must still be enqueued in this transaction, the COMMIT.
    let inserted: TaskRunRow[] = [];
    if (planned.length) {
      const enqueues = this.taskQueue && planned.some((p) => p.ctx.enqueue);
      const written = settleAll<[void, TaskRunRow[]]>([
        precheck ? Promise.resolve() : lockKeys(),
        this.repo.insertRuns(
          em,
          planned.map((p) => p.insert),
        ),
      ]);
      if (!enqueues) {
        tx.commitBehind();
      }
      try {
        [, inserted] = await written;
      } catch (err) {
        if (err instanceof RunsAlreadyExist) {
          throw precheck ? new CreateRaceLost() : new NeedsPrecheck();
        }
        throw err;
      }
    }
    const byId = new Map(inserted.map((r) => [r.id, r]));
    const nowMicros = this.clock.nowMicros();
    const created = new Map<string, TaskRunJson>();
    const toEnqueue: { item: QueueItem; queue: TaskQueueKind }[] = [];
    for (const { index, insert, ctx } of planned) {
      const row = byId.get(insert.run.id);
      if (!row) {
        throw precheck ? new CreateRaceLost() : new NeedsPrecheck();
      }
      const taskRun = toTaskRunJson(applyOrchestratedRun(row, insert.run, ctx.validatedState), nowMicros);
      created.set(naturalKeyOf(items[index].dto), taskRun);
      if (ctx.enqueue) {
        toEnqueue.push({
          item: { taskRunId: insert.run.id, taskKey: insert.run.taskKey, snapshot: taskRun },
          queue: ctx.enqueue.queue,
        });
      }
    }
    // The last round trip when something is queued: the enqueues and the COMMIT behind them.
    await this.enqueueAndCommit(em, tx, toEnqueue);
    return items.map((item, i) => {
      const k = naturalKeyOf(item.dto);
      const mine = created.get(k);
      if (mine) {
        return { ok: true, value: { taskRun: mine, created: leaders.get(k) === i } };
      }
      return { ok: true, value: { taskRun: toTaskRunJson(existing.get(k)!, nowMicros), created: false } };
    });
  }

  /** Orchestrates the initial state of a new run in memory; the writes are buffered for `insertRuns`. */
  private async planCreate(
    em: EntityManager,
    { dto, policy, id }: CreateItem,
  ): Promise<{ insert: RunInsert; ctx: TaskOrchestrationContext }> {
    const proposed = stateFromCreate(dto.state ?? { type: 'PENDING' }, this.clock.now());
    const run: OrchestratedRun = {
      id,
      flowRunId: dto.flow_run_id ?? null,
      taskKey: dto.task_key,
      tags: dto.tags ?? [],
      empiricalPolicy: policy,
      runCount: 0,
      flowRunRunCount: 0,
      stateId: null,
      stateType: null,
      stateName: null,
      stateTimestamp: null,
      expectedStartTime: null,
      nextScheduledStartTime: null,
      startTime: null,
      endTime: null,
      totalRunTime: 0,
    };
    const request = { force: true, deferred: proposed.state_details.deferred === true };
    const entries = this.policy.entriesFor(null, proposed.type, request);
    const ports = new BufferedWritePorts(em, this.flowRuns, this.repo);
    const ctx = new TaskOrchestrationContext({
      run,
      initialState: null,
      proposedState: proposed,
      ports,
      nowMicros: this.clock.nowMicros(),
      settings: { maxCacheKeyLength: this.config.tasks.maxCacheKeyLength },
      transaction: em,
    });
    await orchestrate(ctx, entries, this.policy.globalTransforms());
    return {
      ctx,
      insert: {
        run,
        name: dto.name || generateRunName(),
        dynamicKey: dto.dynamic_key,
        cacheKey: dto.cache_key ?? null,
        cacheExpiration: dto.cache_expiration ? normalizeTimestamp(dto.cache_expiration) : null,
        taskVersion: dto.task_version ?? null,
        policy,
        taskInputs: dto.task_inputs ?? {},
        labels: dto.labels ?? {},
        state: ports.state,
        artifactId: ports.state?.placement.artifact ? randomUUID() : null,
        cacheEntries: ports.cacheEntries,
      },
    };
  }

  /** The full TaskRun JSON (with its state) for an id; 404 `Task not found`. */
  async readTaskRun(id: string, em?: EntityManager): Promise<TaskRunJson> {
    const row = await this.repo.findById(id, em);
    if (!row) {
      throw new NotFoundError(TASK_NOT_FOUND);
    }
    return toTaskRunJson(row, this.clock.nowMicros());
  }

  async updateTaskRun(id: string, dto: UpdateTaskRunDto): Promise<void> {
    const name = 'name' in dto && dto.name !== undefined ? dto.name || generateRunName() : undefined;
    if (!(await this.repo.rename(id, name))) {
      throw new NotFoundError('Task run not found');
    }
  }

  async deleteTaskRun(id: string): Promise<void> {
    if (!(await this.repo.delete(id))) {
      throw new NotFoundError(TASK_NOT_FOUND);
    }
  }

  // ---------------------------------------------------------------- orchestration

  /**
   * `POST /task_runs/{id}/set_state`: the injected policy decides the rules (Core; force → Minimal;
   * deferred → Background). `created` is the 201/200 rule: the returned state is at least as new as the request.
   * Written with the state changes of other runs in its group (see `transitionInTransaction`).
   */
  setTaskRunState(id: string, dto: SetTaskRunStateDto): Promise<TransitionOutcome> {
    return this.transitions.submit({ id, dto });
  }

  /**
   * One group of state changes (distinct runs) in one transaction; on failure each is retried alone. Alone, a
   * state timestamp taken by another writer (e.g. the recorder) is retried once with a new timestamp, then 409.
   */
  private async transitionGroup(
    items: TransitionItem[],
    attempt: number,
  ): Promise<Outcome<TransitionOutcome>[]> {
    try {
      return await this.repo.transaction((em, tx) => this.transitionInTransaction(em, tx, items));
    } catch (err) {
      if (items.length > 1) {
        return Promise.all(items.map(async (item) => (await this.transitionGroup([item], 0))[0]));
      }
      if (!(err instanceof StateTimestampConflict)) {
        return [{ ok: false, error: err }];
      }
      if (attempt === 0) {
        return this.transitionGroup(items, 1);
      }
      return [{ ok: false, error: new ConflictError(err.message) }];
    }
  }

  /**
   * Locks the group's runs in id order (one SELECT … FOR UPDATE), runs the policy on each in memory (rules that
   * own persistence use the transaction), writes every new state, artifact, cache row and run update set-based
   * (TaskRunsRepository.writeTransitions), then enqueues what a rule asked for. A run whose proposal changed
   * nothing (WAIT, ABORT, a null reject) keeps its row, and its `updated`, untouched.
   */
  private async transitionInTransaction(
    em: EntityManager,
    tx: PipelinedTransaction,
    items: TransitionItem[],
  ): Promise<Outcome<TransitionOutcome>[]> {
    const ids = items.map((i) => i.id);
    // One probe of the group's tag limits and slot holders, sent right behind the statements that lock the rows
    // (same round trip; it runs once the rows are locked, so no other writer changes which of these runs hold a
    // slot): runs whose tags have no limit skip their per-run slot queries (docs/performance.md, "Fifth round").
    const [locked] = await settleAll<[TaskRunRow[], void]>([
      this.repo.lockByIds(em, ids),
      this.policy.prepareGroupByIds(em, ids),
    ]);
    const rows = new Map(locked.map((r) => [r.id, r]));
    const order = items
      .map((item, index) => ({ item, index }))
      .sort((a, b) => (a.item.id < b.item.id ? -1 : 1));
    const outcomes = new Array<Outcome<TransitionOutcome>>(items.length);
    const writes: TransitionWrite[] = [];
    const done: {
      index: number;
      row: TaskRunRow;
      ctx: TaskOrchestrationContext;
      initial: OrchestrationState | null;
      result: OrchestrationResult;
      startedMicros: number;
    }[] = [];
    for (const { item, index } of order) {
      const row = rows.get(item.id);
      if (!row) {
        outcomes[index] = {
          ok: false,
          error: new ObjectNotFoundError(`Task run with id ${item.id} not found`),
        };
        continue;
      }
      const startedMicros = this.clock.nowMicros();
      const proposed = stateFromCreate(item.dto.state, fromMicros(startedMicros));
      const request: TransitionRequest = {
        force: item.dto.force === true,
        deferred: proposed.state_details.deferred === true,
      };
      const run = toOrchestratedRun(row);
      const initial = toStateJson(row);
      const ports = new BufferedWritePorts(em, this.flowRuns, this.repo);
      const ctx = new TaskOrchestrationContext({
        run,
        initialState: initial,
        proposedState: proposed,
        ports,
        nowMicros: this.clock.nowMicros(),
        settings: { maxCacheKeyLength: this.config.tasks.maxCacheKeyLength },
        transaction: em,
      });
      const entries = this.policy.entriesFor(initial?.type ?? null, proposed.type, request);
      const before = JSON.stringify(run);
      const result = await orchestrate(ctx, entries, this.policy.globalTransforms());
      const written = ports.state;
      if (written || ports.cacheEntries.length || JSON.stringify(run) !== before) {
        writes.push({
          run,
          state: written,
          artifactId: written?.placement.artifact ? randomUUID() : null,
          cacheEntries: ports.cacheEntries,
        });
      }
      done.push({ index, row, ctx, initial, result, startedMicros });
    }
    // One statement for every write (all or nothing: a state timestamp taken by another writer fails it) and,
    // unless a run must still be enqueued in this transaction, the COMMIT in the same round trip.
    const written = writes.length
      ? this.repo.writeTransitions(em, writes)
      : Promise.resolve(new Map<string, string>());
    if (!(this.taskQueue && done.some((d) => d.ctx.enqueue))) {
      tx.commitBehind();
    }
    const updated = await written;
    const nowMicros = this.clock.nowMicros();
    const toEnqueue: { item: QueueItem; queue: TaskQueueKind }[] = [];
    for (const { index, row, ctx, initial, result, startedMicros } of done) {
      if (ctx.enqueue) {
        const run = ctx.run;
        const current = run.stateId === ctx.validatedState?.id ? ctx.validatedState : initial;
        // Object.assign, not a spread of the 44-key row (a slow path of V8: see applyOrchestratedRun).
        const next = Object.assign(applyOrchestratedRun(row, run, current), {
          updated: updated.get(run.id) ?? row.updated,
        });
        toEnqueue.push({
          item: { taskRunId: run.id, taskKey: run.taskKey, snapshot: toTaskRunJson(next, nowMicros) },
          queue: ctx.enqueue.queue,
        });
      }
      const created = result.state != null && toMicros(result.state.timestamp) >= startedMicros;
      outcomes[index] = { ok: true, value: { result, created } };
    }
    await this.enqueueAndCommit(em, tx, toEnqueue);
    return outcomes;
  }

  /**
   * Queues the group's deferred runs and sends the COMMIT right behind them, in one round trip: every enqueue
   * sends its statement as it is called (the `TaskQueueStore` contract), all of them in this one synchronous loop,
   * and a refused enqueue fails its statement, so the COMMIT answers ROLLBACK (docs/performance.md, "Seventh
   * round"). Nothing to queue: the transaction commits as usual.
   */
  private async enqueueAndCommit(
    em: EntityManager,
    tx: PipelinedTransaction,
    toEnqueue: readonly { item: QueueItem; queue: TaskQueueKind }[],
  ): Promise<void> {
    if (!toEnqueue.length || !this.taskQueue) {
      return;
    }
    const queue = this.taskQueue;
    const sent = toEnqueue.map((e) => queue.enqueue(em, e.item, e.queue));
    tx.commitBehind();
    await settleAll(sent);
  }

  // ---------------------------------------------------------------- validation

  private validateCreate(dto: CreateTaskRunDto): TaskRunPolicy {
    const issues: ValidationIssue[] = [];
    const max = this.config.tasks.maxCacheKeyLength;
    if (dto.cache_key && dto.cache_key.length > max) {
      issues.push({
        loc: ['body', 'cache_key'],
        msg: `Value error, Cache key exceeded maximum allowed length of ${max} characters.`,
        type: 'value_error',
      });
    }
    const policy = dto.empirical_policy ?? {};
    const loc = (k: string) => ['body', 'empirical_policy', k];
    const intOrNull = (k: string, v: unknown) => {
      if (v != null && !Number.isInteger(v)) {
        issues.push({ loc: loc(k), msg: 'Input should be a valid integer', type: 'int_type', input: v });
      }
    };
    const numOrNull = (k: string, v: unknown) => {
      if (v != null && typeof v !== 'number') {
        issues.push({ loc: loc(k), msg: 'Input should be a valid number', type: 'float_type', input: v });
      }
    };
    intOrNull('max_retries', policy.max_retries);
    numOrNull('retry_delay_seconds', policy.retry_delay_seconds);
    intOrNull('retries', policy.retries);
    numOrNull('retry_jitter_factor', policy.retry_jitter_factor);
    const delay = policy.retry_delay;
    if (Array.isArray(delay)) {
      if (delay.some((d) => typeof d !== 'number')) {
        issues.push({
          loc: loc('retry_delay'),
          msg: 'Input should be a valid number',
          type: 'float_type',
          input: delay,
        });
      } else if (delay.length > 50) {
        issues.push({
          loc: loc('retry_delay'),
          msg: 'Value error, Can not configure more than 50 retry delays per task.',
          type: 'value_error',
        });
      }
    } else {
      numOrNull('retry_delay', delay);
    }
    if (typeof policy.retry_jitter_factor === 'number' && policy.retry_jitter_factor < 0) {
      issues.push({
        loc: loc('retry_jitter_factor'),
        msg: 'Value error, `retry_jitter_factor` must be >= 0.',
        type: 'value_error',
      });
    }
    if (issues.length) {
      throw new RequestValidationError(issues);
    }
    return normalizeTaskRunPolicy(policy);
  }
}
