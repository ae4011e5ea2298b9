import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { STATE_TYPES, type StateType } from '../../orchestration/states';
import { ArtifactEntity } from './artifact.entity';
import { TaskRunEntity } from './task-run.entity';

/** `task_run_state` (docs/reference.md §1.2): unique (task_run_id, timestamp DESC); see task-run.entity.ts. */
@Entity({ name: 'task_run_state' })
@Index('uq_task_run_state__task_run_id_timestamp_desc', ['taskRunId', 'timestamp'], { unique: true })
@Index('ix_task_run_state__type', ['type'])
@Index('ix_task_run_state__name', ['name'])
@Index('ix_task_run_state__updated', ['updated'])
@Index('ix_task_run_state__result_artifact_id', ['resultArtifactId'])
export class TaskRunStateEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('timestamptz', { default: () => 'now()' }) created!: string;
  @Column('timestamptz', { default: () => 'now()' }) updated!: string;
  @Column('uuid', { name: 'task_run_id' }) taskRunId!: string;
  @ManyToOne(() => TaskRunEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'task_run_id', foreignKeyConstraintName: 'task_run_state_task_run_id_fkey' })
  taskRun?: TaskRunEntity;
  @Column({ type: 'enum', enum: STATE_TYPES, enumName: 'state_type' }) type!: StateType;
  @Column('timestamptz', { default: () => 'now()' }) timestamp!: string;
  @Column('text') name!: string;
  @Column('text', { nullable: true }) message!: string | null;
  @Column('jsonb', { name: 'state_details', default: {} }) stateDetails!: Record<string, unknown>;
  @Column('jsonb', { nullable: true }) data!: unknown;
  @Column('uuid', { name: 'result_artifact_id', nullable: true }) resultArtifactId!: string | null;
  @ManyToOne(() => ArtifactEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({
    name: 'result_artifact_id',
    foreignKeyConstraintName: 'task_run_state_result_artifact_id_fkey',
  })
  resultArtifact?: ArtifactEntity | null;
}
