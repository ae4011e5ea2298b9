import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateDeadLetters1764300000000 implements MigrationInterface {
  name = 'CreateDeadLetters1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE dead_letter (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      source text NOT NULL,
      reason text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      payload jsonb NOT NULL,
      replayed_at timestamptz NULL
    )`);
    await q.query(`CREATE INDEX ix_dead_letter__source_created ON dead_letter (source, created DESC)`);
    await q.query(`CREATE INDEX ix_dead_letter__created ON dead_letter (created DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letter`);
  }
}
