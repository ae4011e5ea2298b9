import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { StateType } from '../../orchestration/states';

/** `task_run` (docs/reference.md §1.1). Persistence shape only; the wire shape lives in task-run.mapper.ts. */
@Entity({ name: 'task_run' })
export class TaskRunEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'flow_run_id', nullable: true }) flowRunId!: string | null;
  @Column('text', { name: 'task_key' }) taskKey!: string;
  @Column('text', { name: 'dynamic_key' }) dynamicKey!: string;
  @Column('text', { name: 'cache_key', nullable: true }) cacheKey!: string | null;
  @Column('timestamptz', { name: 'cache_expiration', nullable: true }) cacheExpiration!: string | null;
  @Column('text', { name: 'task_version', nullable: true }) taskVersion!: string | null;
  @Column('integer', { name: 'flow_run_run_count' }) flowRunRunCount!: number;
  @Column('integer', { name: 'run_count' }) runCount!: number;
  @Column('jsonb', { name: 'empirical_policy' }) empiricalPolicy!: Record<string, unknown>;
  @Column('jsonb', { name: 'task_inputs' }) taskInputs!: Record<string, unknown>;
  @Column('jsonb') tags!: string[];
  @Column('jsonb', { nullable: true }) labels!: Record<string, unknown> | null;
  @Column('uuid', { name: 'state_id', nullable: true }) stateId!: string | null;
  @Column({ name: 'state_type', type: 'enum', enumName: 'state_type', nullable: true })
  stateType!: StateType | null;
  @Column('text', { name: 'state_name', nullable: true }) stateName!: string | null;
  @Column('timestamptz', { name: 'state_timestamp', nullable: true }) stateTimestamp!: string | null;
  @Column('timestamptz', { name: 'expected_start_time', nullable: true }) expectedStartTime!: string | null;
  @Column('timestamptz', { name: 'next_scheduled_start_time', nullable: true }) nextScheduledStartTime!:
    string | null;
  @Column('timestamptz', { name: 'start_time', nullable: true }) startTime!: string | null;
  @Column('timestamptz', { name: 'end_time', nullable: true }) endTime!: string | null;
  @Column('interval', { name: 'total_run_time' }) totalRunTime!: number;
}
