import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A replay asked on a process that does not run the letter's service (an API replica) is recorded here and
 * carried out by the `DeadLetterReplayer` service where the service runs.
 */
export class DeadLetterReplayRequests1764300007000 implements MigrationInterface {
  name = 'DeadLetterReplayRequests1764300007000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letter ADD COLUMN replay_requested_at timestamptz NULL`);
    await q.query(
      `CREATE INDEX ix_dead_letter__replay_requested ON dead_letter (replay_requested_at)
       WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_dead_letter__replay_requested`);
    await q.query(`ALTER TABLE dead_letter DROP COLUMN replay_requested_at`);
  }
}
