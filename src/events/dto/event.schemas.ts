import {
  ApiProperty,
  ApiPropertyOptions,
  ApiPropertyOptional,
  ApiSchema,
  getSchemaPath,
} from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';

/*
 * OpenAPI models of the event routes. Event bodies are parsed by hand (src/events/event.schema.ts and
 * filters/parse.ts, for upstream's exact error locations), so these classes only describe the wire for the
 * document and for typed clients (docs/reference.md §6).
 */

const TIMESTAMP: ApiPropertyOptions = { type: 'string', format: 'date-time' };
const STRINGS: ApiPropertyOptions = { type: 'array', items: { type: 'string' }, nullable: true };
const LABEL_SPEC: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  description: 'Label → glob or list of globs (`*`, `?`; a leading `!` negates).',
  additionalProperties: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
};

const RESOURCE: SchemaObject = {
  type: 'object',
  description: 'Labels (str → str); `prefect.resource.id` is required.',
  additionalProperties: { type: 'string' },
  properties: { 'prefect.resource.id': { type: 'string' } },
};
const RELATED_RESOURCE: SchemaObject = {
  type: 'object',
  description: 'Labels (str → str); `prefect.resource.id` and `prefect.resource.role` are required.',
  additionalProperties: { type: 'string' },
  properties: { 'prefect.resource.id': { type: 'string' }, 'prefect.resource.role': { type: 'string' } },
};

/** An event as clients send it (`POST /events`, `/events/in`). Unknown top-level keys are ignored. */
@ApiSchema({ name: 'Event' })
export class EventModel {
  @ApiProperty(TIMESTAMP) occurred!: string;
  @ApiProperty({ type: 'string', maxLength: 1024 }) event!: string;
  @ApiProperty(RESOURCE as ApiPropertyOptions) resource!: Record<string, string>;
  @ApiPropertyOptional({ type: 'array', items: RELATED_RESOURCE, maxItems: 100 })
  related?: Record<string, string>[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) payload?: Record<string, unknown>;
  @ApiProperty({ type: 'string', format: 'uuid' }) id!: string;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) follows?: string | null;
}

/** An event as the server returns it: `received` is stamped by the server. */
@ApiSchema({ name: 'ReceivedEvent' })
export class ReceivedEventModel extends EventModel {
  @ApiProperty(TIMESTAMP) received!: string;
}

@ApiSchema({ name: 'EventOccurredFilter' })
export class EventOccurredFilterModel {
  @ApiPropertyOptional({ ...TIMESTAMP, description: 'Default: start of today (UTC) minus 180 days.' })
  since?: string;
  @ApiPropertyOptional({ ...TIMESTAMP, description: 'Default: now.' }) until?: string;
}

@ApiSchema({ name: 'EventNameFilter' })
export class EventNameFilterModel {
  @ApiPropertyOptional(STRINGS) prefix?: string[] | null;
  @ApiPropertyOptional(STRINGS) exclude_prefix?: string[] | null;
  @ApiPropertyOptional(STRINGS) name?: string[] | null;
  @ApiPropertyOptional(STRINGS) exclude_name?: string[] | null;
}

@ApiSchema({ name: 'EventResourceFilter' })
export class EventResourceFilterModel {
  @ApiPropertyOptional(STRINGS) id?: string[] | null;
  @ApiPropertyOptional(STRINGS) id_prefix?: string[] | null;
  @ApiPropertyOptional(LABEL_SPEC) labels?: Record<string, string | string[]> | null;
  @ApiPropertyOptional({ type: 'boolean' }) distinct?: boolean;
}

@ApiSchema({ name: 'EventRelatedFilter' })
export class EventRelatedFilterModel {
  @ApiPropertyOptional(STRINGS) id?: string[] | null;
  @ApiPropertyOptional(STRINGS) role?: string[] | null;
  @ApiPropertyOptional({
    type: 'array',
    nullable: true,
    items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 },
    description: '[resource id, role] pairs.',
  })
  resources_in_roles?: [string, string][] | null;
  @ApiPropertyOptional(LABEL_SPEC) labels?: Record<string, string | string[]> | null;
}

@ApiSchema({ name: 'EventAnyResourceFilter' })
export class EventAnyResourceFilterModel {
  @ApiPropertyOptional(STRINGS) id?: string[] | null;
  @ApiPropertyOptional(STRINGS) id_prefix?: string[] | null;
  @ApiPropertyOptional(LABEL_SPEC) labels?: Record<string, string | string[]> | null;
}

@ApiSchema({ name: 'EventIDFilter' })
export class EventIdFilterModel {
  @ApiPropertyOptional({ type: 'array', items: { type: 'string', format: 'uuid' }, nullable: true })
  id?: string[] | null;
}

@ApiSchema({ name: 'EventTextFilter' })
export class EventTextFilterModel {
  @ApiPropertyOptional({ type: 'string', maxLength: 200, nullable: true }) query?: string | null;
}

const oneOrMany = (model: () => unknown) => ({
  nullable: true,
  oneOf: [
    { $ref: getSchemaPath(model() as never) },
    { type: 'array', items: { $ref: getSchemaPath(model() as never) } },
  ],
});

/** EventFilter: every section optional; unknown keys are refused (422). */
@ApiSchema({ name: 'EventFilter' })
export class EventFilterModel {
  @ApiPropertyOptional({ type: () => EventOccurredFilterModel }) occurred?: EventOccurredFilterModel;
  @ApiPropertyOptional({ type: () => EventNameFilterModel, nullable: true })
  event?: EventNameFilterModel | null;
  @ApiPropertyOptional({ type: () => EventResourceFilterModel, nullable: true })
  resource?: EventResourceFilterModel | null;
  @ApiPropertyOptional(oneOrMany(() => EventRelatedFilterModel))
  related?: EventRelatedFilterModel | EventRelatedFilterModel[] | null;
  @ApiPropertyOptional(oneOrMany(() => EventAnyResourceFilterModel))
  any_resource?: EventAnyResourceFilterModel | EventAnyResourceFilterModel[] | null;
  @ApiPropertyOptional({ type: () => EventIdFilterModel, nullable: true }) id?: EventIdFilterModel | null;
  @ApiPropertyOptional({ type: () => EventTextFilterModel, nullable: true })
  text?: EventTextFilterModel | null;
  @ApiPropertyOptional({ type: 'string', enum: ['ASC', 'DESC'], description: 'By `occurred`; default DESC.' })
  order?: 'ASC' | 'DESC';
}

/** Body of `POST /events/filter`. */
@ApiSchema({ name: 'Body_read_events_events_filter_post' })
export class ReadEventsBody {
  @ApiPropertyOptional({ type: () => EventFilterModel, nullable: true }) filter?: EventFilterModel | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 50, default: 50 }) limit?: number;
}

/** Body of `POST /events/count-by/{countable}`. */
@ApiSchema({ name: 'Body_count_account_events_events_count_by__countable__post' })
export class CountEventsBody {
  @ApiProperty({ type: () => EventFilterModel }) filter!: EventFilterModel;
  @ApiPropertyOptional({
    type: 'string',
    enum: ['week', 'day', 'hour', 'minute', 'second'],
    default: 'day',
    description: 'Bucket unit for `day` and `time` counts.',
  })
  time_unit?: string;
  @ApiPropertyOptional({ type: 'number', minimum: 0.01, default: 1 }) time_interval?: number;
}

/** A page of `POST /events/filter` or `GET /events/filter/next`. */
@ApiSchema({ name: 'EventPage' })
export class EventPageModel {
  @ApiProperty({ type: () => [ReceivedEventModel] }) events!: ReceivedEventModel[];
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'URL of the next page (`…/api/events/filter/next?page-token=…`), null on the last page.',
  })
  next_page!: string | null;
}

/** One bucket of `POST /events/count-by/{countable}`. */
@ApiSchema({ name: 'EventCount' })
export class EventCountModel {
  @ApiProperty({
    type: 'string',
    description: 'The bucket: its position for time counts, else the event/resource.',
  })
  value!: string;
  @ApiProperty({ type: 'string' }) label!: string;
  @ApiProperty({ type: 'integer' }) count!: number;
  @ApiProperty(TIMESTAMP) start_time!: string;
  @ApiProperty(TIMESTAMP) end_time!: string;
}
