import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { StateType } from '../../orchestration/states';

/** `task_run_state` (docs/reference.md §1.2): unique (task_run_id, timestamp DESC). */
@Entity({ name: 'task_run_state' })
export class TaskRunStateEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('uuid', { name: 'task_run_id' }) taskRunId!: string;
  @Column({ type: 'enum', enumName: 'state_type' }) type!: StateType;
  @Column('timestamptz') timestamp!: string;
  @Column('text') name!: string;
  @Column('text', { nullable: true }) message!: string | null;
  @Column('jsonb', { name: 'state_details' }) stateDetails!: Record<string, unknown>;
  @Column('jsonb', { nullable: true }) data!: unknown;
  @Column('uuid', { name: 'result_artifact_id', nullable: true }) resultArtifactId!: string | null;
}
