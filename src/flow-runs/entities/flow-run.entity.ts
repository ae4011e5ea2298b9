import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { StateType } from '../../orchestration/states';

/** The minimal flow run (docs/reference.md §2): its current state document lives in the `state` column. */
@Entity({ name: 'flow_run' })
export class FlowRunEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'flow_id' }) flowId!: string;
  @Column('uuid', { name: 'deployment_id', nullable: true }) deploymentId!: string | null;
  @Column('text', { name: 'work_queue_name', nullable: true }) workQueueName!: string | null;
  @Column('text', { name: 'flow_version', nullable: true }) flowVersion!: string | null;
  @Column('jsonb') parameters!: Record<string, unknown>;
  @Column('text', { name: 'idempotency_key', nullable: true }) idempotencyKey!: string | null;
  @Column('jsonb') context!: Record<string, unknown>;
  @Column('jsonb', { name: 'empirical_policy' }) empiricalPolicy!: Record<string, unknown>;
  @Column('jsonb') tags!: string[];
  @Column('jsonb', { nullable: true }) labels!: Record<string, unknown> | null;
  @Column('jsonb', { name: 'created_by', nullable: true }) createdBy!: Record<string, unknown> | null;
  @Column('uuid', { name: 'parent_task_run_id', nullable: true }) parentTaskRunId!: string | null;
  @Column('uuid', { name: 'state_id', nullable: true }) stateId!: string | null;
  @Column({ name: 'state_type', type: 'enum', enumName: 'state_type', nullable: true })
  stateType!: StateType | null;
  @Column('text', { name: 'state_name', nullable: true }) stateName!: string | null;
  @Column('timestamptz', { name: 'state_timestamp', nullable: true }) stateTimestamp!: string | null;
  @Column('jsonb', { nullable: true }) state!: Record<string, unknown> | null;
  @Column('integer', { name: 'run_count' }) runCount!: number;
  @Column('timestamptz', { name: 'expected_start_time', nullable: true }) expectedStartTime!: string | null;
  @Column('timestamptz', { name: 'next_scheduled_start_time', nullable: true }) nextScheduledStartTime!:
    string | null;
  @Column('timestamptz', { name: 'start_time', nullable: true }) startTime!: string | null;
  @Column('timestamptz', { name: 'end_time', nullable: true }) endTime!: string | null;
  @Column('interval', { name: 'total_run_time' }) totalRunTime!: number;
}
