import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** What a service could not store after its retries, with the reason (docs/reference.md, beyond upstream 3). */
@Entity({ name: 'dead_letter' })
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  created!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  updated!: string;

  /** The service (or component) that gave up, e.g. `event-persister`. */
  @Column({ type: 'text' })
  source!: string;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ type: 'jsonb' })
  payload!: unknown;

  @Column({ name: 'replayed_at', type: 'timestamptz', nullable: true })
  replayedAt!: string | null;

  /** Set when a replay was asked where the letter's service does not run; the `DeadLetterReplayer` does it. */
  @Column({ name: 'replay_requested_at', type: 'timestamptz', nullable: true })
  replayRequestedAt!: string | null;
}
