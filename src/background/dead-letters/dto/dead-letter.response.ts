import { ApiProperty, ApiSchema } from '@nestjs/swagger';

/** One row of the dead-letter table as `/admin/dead_letters` shows it (docs/reference.md §2). */
@ApiSchema({ name: 'DeadLetter' })
export class DeadLetterResponse {
  @ApiProperty({ type: 'string', format: 'uuid' }) id!: string;
  @ApiProperty({ type: 'string', format: 'date-time' }) created!: string;
  @ApiProperty({ type: 'string', format: 'date-time' }) updated!: string;
  @ApiProperty({ type: 'string', description: 'The service that gave up, e.g. event-persister.' })
  source!: string;
  @ApiProperty({ type: 'string' }) reason!: string;
  @ApiProperty({ type: 'integer' }) attempts!: number;
  @ApiProperty({
    description: 'Any JSON value: what could not be stored (an event, for the bus-fed services).',
  })
  payload!: unknown;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) replayed_at!: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) replay_requested_at!: string | null;
}
