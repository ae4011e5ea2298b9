import { Column, Entity, PrimaryColumn } from 'typeorm';

/** `task_run_state_cache` (docs/reference.md §1.3). */
@Entity({ name: 'task_run_state_cache' })
export class TaskRunStateCacheEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text', { name: 'cache_key' }) cacheKey!: string;
  @Column('timestamptz', { name: 'cache_expiration', nullable: true }) cacheExpiration!: string | null;
  @Column('uuid', { name: 'task_run_state_id' }) taskRunStateId!: string;
}
