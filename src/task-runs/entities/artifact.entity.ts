import { Column, Entity, PrimaryColumn } from 'typeorm';

/** `artifact`: where API-orchestrated states keep their result data (docs/reference.md §1.2). */
@Entity({ name: 'artifact' })
export class ArtifactEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text', { nullable: true }) key!: string | null;
  @Column('text', { nullable: true }) type!: string | null;
  @Column('text', { nullable: true }) description!: string | null;
  @Column('jsonb', { nullable: true }) data!: unknown;
  @Column('jsonb', { name: 'metadata_', nullable: true }) metadata!: Record<string, unknown> | null;
  @Column('uuid', { name: 'task_run_id', nullable: true }) taskRunId!: string | null;
  @Column('uuid', { name: 'flow_run_id', nullable: true }) flowRunId!: string | null;
}
