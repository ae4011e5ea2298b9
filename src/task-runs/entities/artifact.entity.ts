import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `artifact`: where API-orchestrated states keep their result data (docs/reference.md §1.2); see task-run.entity.ts. */
@Entity({ name: 'artifact' })
@Index('ix_artifact__key', ['key'])
@Index('ix_artifact__task_run_id', ['taskRunId'])
@Index('ix_artifact__flow_run_id', ['flowRunId'])
export class ArtifactEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('timestamptz', { default: () => 'now()' }) created!: string;
  @Column('timestamptz', { default: () => 'now()' }) updated!: string;
  @Column('text', { nullable: true }) key!: string | null;
  @Column('text', { nullable: true }) type!: string | null;
  @Column('text', { nullable: true }) description!: string | null;
  @Column('jsonb', { nullable: true }) data!: unknown;
  @Column('jsonb', { name: 'metadata_', nullable: true }) metadata!: Record<string, unknown> | null;
  @Column('uuid', { name: 'task_run_id', nullable: true }) taskRunId!: string | null;
  @Column('uuid', { name: 'flow_run_id', nullable: true }) flowRunId!: string | null;
}
