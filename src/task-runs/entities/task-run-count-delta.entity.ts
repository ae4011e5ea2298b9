import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { STATE_TYPES, type StateType } from '../../orchestration/states';

/**
 * `task_run_count_delta`: signed changes of the number of task runs per state type, written by statement-level
 * triggers on `task_run` (migration 1764300015000-TaskRunCountDeltas, which also holds the triggers: TypeORM
 * cannot express them) and folded by the TaskRunCounts service. See docs/performance.md, "Queries, second round".
 */
@Entity({ name: 'task_run_count_delta' })
export class TaskRunCountDeltaEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' }) id!: string;
  @Column({ name: 'state_type', type: 'enum', enum: STATE_TYPES, enumName: 'state_type', nullable: true })
  stateType!: StateType | null;
  @Column('bigint') delta!: string;
}
