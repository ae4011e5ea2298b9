/* Test helpers for rule/engine specs: an in-memory run, fake ports and a one-rule orchestration. */
import { fromMicros } from '../common/time/timestamp';
import { FlowRunView, OrchestrationPorts, TaskOrchestrationContext } from './orchestration-context';
import type { PolicyEntry, UniversalTransform } from './orchestration-rule';
import { orchestrate } from './orchestration.engine';
import type {
  OrchestratedRun,
  OrchestrationResult,
  OrchestrationState,
  StateDetails,
} from './orchestration.types';
import { makeState } from './state-factory';
import type { StateType } from './states';

export const T0 = Date.UTC(2026, 0, 1) * 1000;

export function fakeRun(overrides: Partial<OrchestratedRun> = {}): OrchestratedRun {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    flowRunId: null,
    taskKey: 'k',
    tags: [],
    empiricalPolicy: {},
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
    ...overrides,
  };
}

export function st(
  type: StateType,
  opts: { name?: string; at?: number; details?: StateDetails; data?: unknown; message?: string } = {},
): OrchestrationState {
  return makeState(
    { type, name: opts.name, data: opts.data, message: opts.message, state_details: opts.details },
    fromMicros(opts.at ?? T0),
  );
}

export class FakePorts implements OrchestrationPorts {
  flowRuns = new Map<string, FlowRunView>();
  cache: { key: string; expiration: string | null; state: OrchestrationState }[] = [];
  written: OrchestrationState[] = [];
  failWrite?: Error;

  readFlowRun(id: string): Promise<FlowRunView | null> {
    return Promise.resolve(this.flowRuns.get(id) ?? null);
  }

  findCachedState(key: string): Promise<OrchestrationState | null> {
    const hit = [...this.cache].reverse().find((c) => c.key === key);
    return Promise.resolve(hit ? hit.state : null);
  }

  insertCacheEntry(key: string, expiration: string | null, stateId: string): Promise<void> {
    const state = this.written.find((s) => s.id === stateId);
    if (state) {
      this.cache.push({ key, expiration, state });
    }
    return Promise.resolve();
  }

  writeState(run: OrchestratedRun, state: OrchestrationState): Promise<OrchestrationState> {
    if (this.failWrite) {
      return Promise.reject(this.failWrite);
    }
    run.stateId = state.id;
    const copy = structuredClone(state);
    this.written.push(copy);
    return Promise.resolve(copy);
  }
}

export function fakeContext(opts: {
  run?: Partial<OrchestratedRun>;
  initial?: OrchestrationState | null;
  proposed: OrchestrationState | null;
  ports?: FakePorts;
  now?: number;
  random?: () => number;
}): TaskOrchestrationContext {
  return new TaskOrchestrationContext({
    run: fakeRun({ stateType: opts.initial?.type ?? null, stateId: opts.initial?.id ?? null, ...opts.run }),
    initialState: opts.initial ?? null,
    proposedState: opts.proposed,
    ports: opts.ports ?? new FakePorts(),
    nowMicros: opts.now ?? T0 + 1_000_000,
    random: opts.random ?? (() => 0.5),
  });
}

/** Runs `entries` (unfiltered: the engine checks FROM/TO itself) with no global transforms. */
export async function run(
  ctx: TaskOrchestrationContext,
  entries: readonly PolicyEntry[],
  transforms: readonly UniversalTransform[] = [],
): Promise<OrchestrationResult> {
  return orchestrate(ctx, entries, transforms);
}
