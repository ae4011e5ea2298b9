import type { EntityManager } from 'typeorm';
import { fromMicros, toMicros, type Timestamp } from '../common/time/timestamp';
import type {
  OrchestratedRun,
  OrchestrationDetails,
  OrchestrationResult,
  OrchestrationState,
  OrchestrationStatus,
  StateDetails,
} from './orchestration.types';
import type { StateType } from './states';

/** What flow-aware rules need to know about the run's flow run. */
export interface FlowRunView {
  id: string;
  runCount: number;
  stateType: StateType | null;
  stateName: string | null;
  stateDetails: StateDetails | null;
}

/**
 * The database-facing ports of one orchestration, implemented by the task-runs side with the transaction's
 * EntityManager. Rules stay pure: everything they need from storage goes through here.
 */
export interface OrchestrationPorts {
  /** The flow run (state, run_count), or null when it does not exist. */
  readFlowRun(flowRunId: string): Promise<FlowRunView | null>;
  /** The newest cached state for `cacheKey` whose expiration is null or after `now` (with its data). */
  findCachedState(cacheKey: string, now: Timestamp): Promise<OrchestrationState | null>;
  insertCacheEntry(cacheKey: string, expiration: Timestamp | null, stateId: string): Promise<void>;
  /** `validate_proposed_state`: persist `state` as the run's new current state and return what was stored. */
  writeState(run: OrchestratedRun, state: OrchestrationState): Promise<OrchestrationState>;
}

export interface OrchestrationSettings {
  maxCacheKeyLength: number;
}

/** A request, made by a rule, that the caller enqueues the run for background delivery (same transaction). */
export interface EnqueueRequest {
  queue: 'scheduled' | 'retry';
}

export interface TaskOrchestrationContextInit {
  run: OrchestratedRun;
  initialState: OrchestrationState | null;
  proposedState: OrchestrationState | null;
  ports: OrchestrationPorts;
  /** Integer µs since the epoch: the time of this orchestration. */
  nowMicros: number;
  settings?: Partial<OrchestrationSettings>;
  /** Uniform [0,1) source for jitter (tests pin it). */
  random?: () => number;
  /** The transaction, for rules that own their persistence (e.g. tag concurrency). Pure rules ignore it. */
  transaction?: EntityManager;
}

/**
 * docs/reference.md §4.1 context: the live run, initial / proposed / validated states, the response status and details,
 * the first error raised by a rule, and a parameters bag shared between rules.
 */
export class TaskOrchestrationContext {
  readonly run: OrchestratedRun;
  readonly initialState: OrchestrationState | null;
  proposedState: OrchestrationState | null;
  validatedState: OrchestrationState | null = null;
  responseStatus: OrchestrationStatus = 'ACCEPT';
  responseDetails: OrchestrationDetails = { type: 'accept_details' };
  orchestrationError: unknown = undefined;
  readonly parameters = new Map<string, unknown>();
  readonly ports: OrchestrationPorts;
  readonly nowMicros: number;
  readonly settings: OrchestrationSettings;
  readonly random: () => number;
  readonly transaction?: EntityManager;
  /** Set by EnqueueScheduledTasks; the task-runs side performs it in the same transaction. */
  enqueue: EnqueueRequest | null = null;

  constructor(init: TaskOrchestrationContextInit) {
    this.run = init.run;
    this.initialState = init.initialState;
    this.proposedState = init.proposedState;
    this.ports = init.ports;
    this.nowMicros = init.nowMicros;
    this.settings = { maxCacheKeyLength: 2000, ...init.settings };
    this.random = init.random ?? Math.random;
    this.transaction = init.transaction;
  }

  get now(): Timestamp {
    return fromMicros(this.nowMicros);
  }

  get initialType(): StateType | null {
    return this.initialState?.type ?? null;
  }

  get proposedType(): StateType | null {
    return this.proposedState?.type ?? null;
  }

  /** Seconds from now until `ts` (negative when in the past). */
  secondsUntil(ts: Timestamp): number {
    return (toMicros(ts) - this.nowMicros) / 1e6;
  }

  result(): OrchestrationResult {
    return { state: this.validatedState, status: this.responseStatus, details: this.responseDetails };
  }
}
