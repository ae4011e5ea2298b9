import { OrchestrationRule, UniversalTransform } from '../orchestration-rule';
import { CacheRetrieval } from '../rules/cache-retrieval.rule';
import { EnqueueScheduledTasks } from '../rules/enqueue-scheduled-tasks.rule';
import { choosePolicy, DefaultTaskOrchestrationPolicy } from './orchestration-policy';
import { TaskConcurrencyRules } from './task-policies';

const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name);

describe(DefaultTaskOrchestrationPolicy.name, () => {
  it('should choose Core by default, Minimal when forced, Background when deferred', () => {
    expect(choosePolicy({ force: false, deferred: false })).toBe('core');
    expect(choosePolicy({ force: true, deferred: false })).toBe('minimal');
    expect(choosePolicy({ force: true, deferred: true })).toBe('background');
  });

  it('should list the Core rules for PENDING→RUNNING in upstream order', () => {
    const sut = new DefaultTaskOrchestrationPolicy();
    expect(names(sut.entriesFor('PENDING', 'RUNNING', { force: false, deferred: false }))).toEqual([
      'CacheRetrieval',
      'PreventRunningTasksFromStoppedFlows',
      'WaitForScheduledTime',
      'RenameReruns',
      'UpdateFlowRunTrackerOnTasks',
    ]);
  });

  it('should keep Minimal empty without concurrency rules and Background ending with EnqueueScheduledTasks', () => {
    const sut = new DefaultTaskOrchestrationPolicy();
    expect(sut.entriesFor(null, 'PENDING', { force: true, deferred: false })).toEqual([]);
    const bg = sut.entriesFor(null, 'SCHEDULED', { force: true, deferred: true });
    expect(bg.at(-1)).toBeInstanceOf(EnqueueScheduledTasks);
  });

  it('should splice tag-concurrency rules in at the extension point', () => {
    class Secure extends OrchestrationRule {
      readonly fromStates = new CacheRetrieval().fromStates;
      readonly toStates = new CacheRetrieval().toStates;
    }
    class Release extends UniversalTransform {}
    const concurrency: TaskConcurrencyRules = {
      secureSlots: () => [new Secure()],
      releaseSlots: () => [new Release()],
    };
    const sut = new DefaultTaskOrchestrationPolicy(concurrency);
    expect(names(sut.entriesFor('PENDING', 'RUNNING', { force: false, deferred: false }))).toEqual([
      'CacheRetrieval',
      'PreventRunningTasksFromStoppedFlows',
      'Secure',
      'WaitForScheduledTime',
      'RenameReruns',
      'UpdateFlowRunTrackerOnTasks',
      'Release',
    ]);
    expect(names(sut.entriesFor('RUNNING', 'COMPLETED', { force: true, deferred: false }))).toEqual([
      'Release',
    ]);
  });
});
