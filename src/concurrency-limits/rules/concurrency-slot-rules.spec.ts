import { DefaultTaskOrchestrationPolicy } from '../../orchestration/policies/orchestration-policy';
import type { ConcurrencySlotsService } from '../concurrency-slots.service';
import { ConcurrencySlotRules } from './concurrency-slot-rules';

describe(ConcurrencySlotRules.name, () => {
  const sut = new DefaultTaskOrchestrationPolicy(new ConcurrencySlotRules({} as ConcurrencySlotsService));
  const names = (
    from: Parameters<typeof sut.entriesFor>[0],
    to: Parameters<typeof sut.entriesFor>[1],
    force = false,
    deferred = false,
  ) => sut.entriesFor(from, to, { force, deferred }).map((e) => e.name);

  it('should place Secure after PreventRunningTasksFromStoppedFlows and Release last in CoreTaskPolicy', () => {
    const core = names('PENDING', 'RUNNING');
    expect(core.indexOf('SecureTaskConcurrencySlots')).toBe(
      core.indexOf('PreventRunningTasksFromStoppedFlows') + 1,
    );
    expect(core.at(-1)).toBe('ReleaseTaskConcurrencySlots');
  });

  it('should not secure slots on transitions other than into RUNNING', () => {
    expect(names('RUNNING', 'COMPLETED')).not.toContain('SecureTaskConcurrencySlots');
    expect(names('RUNNING', 'COMPLETED')).toContain('ReleaseTaskConcurrencySlots');
  });

  it('should make Release the only entry of MinimalTaskPolicy (force)', () => {
    expect(names('RUNNING', 'COMPLETED', true)).toEqual(['ReleaseTaskConcurrencySlots']);
    expect(names('PENDING', 'RUNNING', true)).toEqual(['ReleaseTaskConcurrencySlots']);
  });

  it('should put Release before EnqueueScheduledTasks in BackgroundTaskPolicy, without Secure', () => {
    const background = names('RUNNING', 'SCHEDULED', false, true);
    expect(background.slice(-2)).toEqual(['ReleaseTaskConcurrencySlots', 'EnqueueScheduledTasks']);
    expect(names('PENDING', 'RUNNING', false, true)).not.toContain('SecureTaskConcurrencySlots');
  });
});
