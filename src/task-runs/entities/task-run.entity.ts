import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { FlowRunEntity } from '../../flow-runs/entities/flow-run.entity';
import { STATE_TYPES, type StateType } from '../../orchestration/states';

/**
 * `task_run` (docs/reference.md §1.1), as the migrations build it: columns, defaults, indexes, the natural key and the flow-run
 * foreign key (test/e2e/task-run-entities.e2e-spec.ts proves TypeORM's schema diff is empty). Persistence shape
 * only: statements live in TaskRunsRepository, the wire shape in task-run.mapper.ts. Indexes TypeORM cannot
 * express (GIN, trigram) are declared with `synchronize: false`.
 */
@Entity({ name: 'task_run' })
@Unique('uq_task_run__flow_run_id_task_key_dynamic_key', ['flowRunId', 'taskKey', 'dynamicKey'])
@Index('ix_task_run__name', ['name'])
@Index('trgm_ix_task_run_name', { synchronize: false })
@Index('ix_task_run__updated', ['updated'])
@Index('ix_task_run__state_id', ['stateId'])
@Index('ix_task_run__expected_start_time_desc', ['expectedStartTime'])
@Index('ix_task_run__next_scheduled_start_time_asc', ['nextScheduledStartTime'])
@Index('ix_task_run__end_time_desc', ['endTime'])
@Index('ix_task_run__end_time_desc_completed', ['endTime'], { where: `state_type = 'COMPLETED'` })
@Index('ix_task_run__end_time_desc_failed', ['endTime'], { where: `state_type = 'FAILED'` })
@Index('ix_task_run__end_time_desc_crashed', ['endTime'], { where: `state_type = 'CRASHED'` })
@Index('ix_task_run__end_time_desc_cancelled', ['endTime'], { where: `state_type = 'CANCELLED'` })
@Index('ix_task_run__start_time', ['startTime'])
@Index('ix_task_run__state_type_start_time', ['stateType', 'startTime'])
@Index('ix_task_run__state_name', ['stateName'])
@Index('ix_task_run__state_timestamp', ['stateTimestamp'])
@Index('ix_task_run__flow_run_id_expected_start_time', ['flowRunId', 'expectedStartTime'])
@Index('ix_task_run__state_type_expected_start_time', ['stateType', 'expectedStartTime'])
@Index('ix_task_run__task_key_state_type', ['taskKey', 'stateType'])
@Index('ix_task_run__tags', { synchronize: false })
export class TaskRunEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('timestamptz', { default: () => 'now()' }) created!: string;
  @Column('timestamptz', { default: () => 'now()' }) updated!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'flow_run_id', nullable: true }) flowRunId!: string | null;
  @ManyToOne(() => FlowRunEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'flow_run_id', foreignKeyConstraintName: 'task_run_flow_run_id_fkey' })
  flowRun?: FlowRunEntity | null;
  @Column('text', { name: 'task_key' }) taskKey!: string;
  @Column('text', { name: 'dynamic_key' }) dynamicKey!: string;
  @Column('text', { name: 'cache_key', nullable: true }) cacheKey!: string | null;
  @Column('timestamptz', { name: 'cache_expiration', nullable: true }) cacheExpiration!: string | null;
  @Column('text', { name: 'task_version', nullable: true }) taskVersion!: string | null;
  @Column('integer', { name: 'flow_run_run_count', default: 0 }) flowRunRunCount!: number;
  @Column('integer', { name: 'run_count', default: 0 }) runCount!: number;
  @Column('jsonb', { name: 'empirical_policy', default: {} }) empiricalPolicy!: Record<string, unknown>;
  @Column('jsonb', { name: 'task_inputs', default: {} }) taskInputs!: Record<string, unknown>;
  @Column('jsonb', { default: [] }) tags!: string[];
  @Column('jsonb', { nullable: true }) labels!: Record<string, unknown> | null;
  @Column('uuid', { name: 'state_id', nullable: true }) stateId!: string | null;
  @Column({ name: 'state_type', type: 'enum', enum: STATE_TYPES, enumName: 'state_type', nullable: true })
  stateType!: StateType | null;
  @Column('text', { name: 'state_name', nullable: true }) stateName!: string | null;
  @Column('timestamptz', { name: 'state_timestamp', nullable: true }) stateTimestamp!: string | null;
  @Column('timestamptz', { name: 'expected_start_time', nullable: true }) expectedStartTime!: string | null;
  @Column('timestamptz', { name: 'next_scheduled_start_time', nullable: true }) nextScheduledStartTime!:
    string | null;
  @Column('timestamptz', { name: 'start_time', nullable: true }) startTime!: string | null;
  @Column('timestamptz', { name: 'end_time', nullable: true }) endTime!: string | null;
  @Column('interval', { name: 'total_run_time', default: () => "'00:00:00'" }) totalRunTime!: number;
}
