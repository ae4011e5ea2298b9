import { CreateDeadLetters1764300000000 } from './1764300000000-CreateDeadLetters';
import { CreateFlowsAndTaskRuns1764300001000 } from './1764300001000-CreateFlowsAndTaskRuns';
import { CreateEvents1764300003000 } from './1764300003000-CreateEvents';
import { CreateTaskQueues1764300004000 } from './1764300004000-CreateTaskQueues';
import { CreateConcurrencyLimits1764300005000 } from './1764300005000-CreateConcurrencyLimits';
import { DeadLetterReplayRequests1764300007000 } from './1764300007000-DeadLetterReplayRequests';
import { CreateEventLog1764300011000 } from './1764300011000-CreateEventLog';
import { TaskRunEndTimeByTerminalState1764300013000 } from './1764300013000-TaskRunEndTimeByTerminalState';
import { TaskRunCountDeltas1764300015000 } from './1764300015000-TaskRunCountDeltas';
import { DropRedundantTaskRunIndexes1764300017000 } from './1764300017000-DropRedundantTaskRunIndexes';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list works compiled, under Jest and
 * under the TypeORM CLI. Add new migrations at the end.
 */
export const migrations = [
  CreateDeadLetters1764300000000,
  CreateFlowsAndTaskRuns1764300001000,
  CreateEvents1764300003000,
  CreateTaskQueues1764300004000,
  CreateConcurrencyLimits1764300005000,
  DeadLetterReplayRequests1764300007000,
  CreateEventLog1764300011000,
  TaskRunEndTimeByTerminalState1764300013000,
  TaskRunCountDeltas1764300015000,
  DropRedundantTaskRunIndexes1764300017000,
];
