import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `task_run_state_cache` (docs/reference.md §1.3); see task-run.entity.ts. */
@Entity({ name: 'task_run_state_cache' })
@Index('ix_task_run_state_cache__cache_key_created_desc', ['cacheKey', 'created'])
export class TaskRunStateCacheEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('timestamptz', { default: () => 'now()' }) created!: string;
  @Column('timestamptz', { default: () => 'now()' }) updated!: string;
  @Column('text', { name: 'cache_key' }) cacheKey!: string;
  @Column('timestamptz', { name: 'cache_expiration', nullable: true }) cacheExpiration!: string | null;
  @Column('uuid', { name: 'task_run_state_id' }) taskRunStateId!: string;
}
