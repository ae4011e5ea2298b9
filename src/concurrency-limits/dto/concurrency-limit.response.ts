import { ApiProperty, ApiPropertyOptions, ApiSchema } from '@nestjs/swagger';
import type { ConcurrencyLimitResponse, ConcurrencyLimitV2Response } from '../concurrency-limits.mapper';
import type { MinimalLimit } from '../slot-plan';

/* OpenAPI models of the tag-concurrency routes, Prefect's names; the TypeScript shapes live in the mapper. */

const TIMESTAMP: ApiPropertyOptions = { type: 'string', format: 'date-time' };
const UUID: ApiPropertyOptions = { type: 'string', format: 'uuid' };

@ApiSchema({ name: 'ConcurrencyLimit' })
export class ConcurrencyLimitModel implements ConcurrencyLimitResponse {
  @ApiProperty(UUID) id!: string;
  @ApiProperty(TIMESTAMP) created!: string;
  @ApiProperty(TIMESTAMP) updated!: string;
  @ApiProperty({ type: 'string' }) tag!: string;
  @ApiProperty({ type: 'integer' }) concurrency_limit!: number;
  @ApiProperty({
    type: 'array',
    items: { type: 'string', format: 'uuid' },
    description: 'Task runs holding a slot.',
  })
  active_slots!: string[];
}

@ApiSchema({ name: 'ConcurrencyLimitV2' })
export class ConcurrencyLimitV2Model implements ConcurrencyLimitV2Response {
  @ApiProperty(UUID) id!: string;
  @ApiProperty(TIMESTAMP) created!: string;
  @ApiProperty(TIMESTAMP) updated!: string;
  @ApiProperty({ type: 'boolean' }) active!: boolean;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty({ type: 'integer' }) limit!: number;
  @ApiProperty({ type: 'integer' }) active_slots!: number;
  @ApiProperty({ type: 'integer' }) denied_slots!: number;
  @ApiProperty({ type: 'number' }) slot_decay_per_second!: number;
  @ApiProperty({ type: 'number' }) avg_slot_occupancy_seconds!: number;
}

@ApiSchema({ name: 'MinimalConcurrencyLimitResponse' })
export class MinimalConcurrencyLimitModel implements MinimalLimit {
  @ApiProperty(UUID) id!: string;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty({ type: 'integer' }) limit!: number;
}
