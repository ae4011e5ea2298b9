import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'deployment' })
export class DeploymentEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'flow_id' }) flowId!: string;
  @Column('boolean') paused!: boolean;
  @Column('jsonb') tags!: string[];
  @Column('jsonb', { nullable: true }) labels!: Record<string, unknown> | null;
  @Column('text', { name: 'work_queue_name', nullable: true }) workQueueName!: string | null;
  @Column('integer', { name: 'concurrency_limit', nullable: true }) concurrencyLimit!: number | null;
}
