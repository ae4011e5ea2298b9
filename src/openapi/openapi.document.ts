import { INestApplication } from '@nestjs/common';
import { ApiSchema, DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorDetailResponse, ValidationErrorResponse } from '../common/http/error.responses';
import { ConcurrencyLimitCreateDto } from '../concurrency-limits/dto/concurrency-limit-create.dto';
import { ConcurrencyLimitResetDto } from '../concurrency-limits/dto/concurrency-limit-reset.dto';
import { ConcurrencyLimitSlotsDto } from '../concurrency-limits/dto/concurrency-limit-slots.dto';
import { ConcurrencyLimitV2CreateDto } from '../concurrency-limits/dto/concurrency-limit-v2-create.dto';
import { ConcurrencyLimitV2UpdateDto } from '../concurrency-limits/dto/concurrency-limit-v2-update.dto';
import { LimitOffsetDto } from '../concurrency-limits/dto/limit-offset.dto';
import { EventAnyResourceFilterModel, EventRelatedFilterModel } from '../events/dto/event.schemas';
import { CreateFlowDto, CreateFlowRunDto, SetFlowRunStateDto } from '../flow-runs/dto/flow-runs.dto';
import { StateCreateDto } from '../orchestration/dto/state-create.dto';
import { ORCHESTRATION_DETAILS_MODELS } from '../orchestration/dto/state.response';
import { ReadTaskWorkersDto, TaskWorkerFilterDto } from '../task-queues/dto/task-worker-filter.dto';
import {
  DeploymentFilterDto,
  FlowFilterDto,
  FlowRunFilterDto,
  TaskRunFilterDto,
  TaskRunFiltersDto,
} from '../task-runs/dto/filters.dto';
import { TaskRunInputResponse } from '../task-runs/dto/task-run.response';
import {
  CountTaskRunsDto,
  CreateTaskRunDto,
  DashboardCountsDto,
  FilterTaskRunsDto,
  PaginateTaskRunsDto,
  SetTaskRunStateDto,
  TaskRunHistoryDto,
  UpdateTaskRunDto,
} from '../task-runs/dto/task-runs.dto';
import { ANY_JSON, deriveRequestSchemas } from './validator-schemas';
import { WEBSOCKETS_DESCRIPTION } from './websockets.description';

/**
 * The OpenAPI document served at `/api/openapi.json` and written by `npm run openapi:dump`: request schemas
 * derived from the DTOs' validators, response models from the `*.response.ts` classes, Prefect's schema and
 * tag names, the basic-auth scheme and the websockets in the description (docs/reference.md).
 */

/** Request DTOs under the names Prefect's own document gives them (other classes keep their class name). */
const REQUEST_NAMES: [abstract new () => unknown, string][] = [
  [CreateTaskRunDto, 'TaskRunCreate'],
  [UpdateTaskRunDto, 'TaskRunUpdate'],
  [StateCreateDto, 'StateCreate'],
  [SetTaskRunStateDto, 'Body_set_task_run_state_task_runs__id__set_state_post'],
  [FilterTaskRunsDto, 'Body_read_task_runs_task_runs_filter_post'],
  [PaginateTaskRunsDto, 'Body_paginate_task_runs_task_runs_paginate_post'],
  [CountTaskRunsDto, 'Body_count_task_runs_task_runs_count_post'],
  [TaskRunHistoryDto, 'Body_task_run_history_task_runs_history_post'],
  [DashboardCountsDto, 'Body_read_dashboard_task_run_counts_ui_task_runs_dashboard_counts_post'],
  [TaskRunFiltersDto, 'TaskRunFilters'],
  [TaskRunFilterDto, 'TaskRunFilter'],
  [FlowRunFilterDto, 'FlowRunFilter'],
  [FlowFilterDto, 'FlowFilter'],
  [DeploymentFilterDto, 'DeploymentFilter'],
  [CreateFlowDto, 'FlowCreate'],
  [CreateFlowRunDto, 'FlowRunCreate'],
  [SetFlowRunStateDto, 'Body_set_flow_run_state_flow_runs__id__set_state_post'],
  [ConcurrencyLimitCreateDto, 'ConcurrencyLimitCreate'],
  [ConcurrencyLimitV2CreateDto, 'ConcurrencyLimitV2Create'],
  [ConcurrencyLimitV2UpdateDto, 'ConcurrencyLimitV2Update'],
  [ConcurrencyLimitSlotsDto, 'Body_increment_concurrency_limits_v1_concurrency_limits_increment_post'],
  [ConcurrencyLimitResetDto, 'Body_reset_concurrency_limit_by_tag_concurrency_limits_tag__tag__reset_post'],
  [LimitOffsetDto, 'Body_read_concurrency_limits_concurrency_limits_filter_post'],
  [ReadTaskWorkersDto, 'Body_read_task_workers_task_workers_filter_post'],
  [TaskWorkerFilterDto, 'TaskWorkerFilter'],
];

const TAGS: [string, string][] = [
  ['Root', 'Probes and metrics.'],
  ['Task Runs', 'Create, read, filter and orchestrate task runs.'],
  ['Task Run States', 'The state history of a task run.'],
  ['Task Workers', 'Workers connected to the background-task websocket.'],
  ['UI', 'Aggregates for dashboards.'],
  ['Flows', 'Minimal flows (as far as task runs need them).'],
  ['Flow Runs', 'Minimal flow runs (as far as task runs need them).'],
  ['Concurrency Limits', 'Tag concurrency limits (v1).'],
  ['Concurrency Limits V2', 'Global concurrency limits (v2); tag limits are named `tag:<tag>`.'],
  ['Events', 'Event ingestion, queries and counts.'],
  ['Admin', 'Dead letters and background-task queues.'],
];

/** Routes that stay open when the auth string is set (probes). */
const PUBLIC_PATHS = ['/api/health', '/api/ready'];

let named = false;

/** Give every request DTO its schema name (Prefect's where it has one). */
function nameRequestSchemas(): void {
  if (named) {
    return;
  }
  named = true;
  for (const [target, name] of REQUEST_NAMES) {
    ApiSchema({ name })(target);
  }
}

type Operation = {
  requestBody?: unknown;
  parameters?: { in: string; name: string }[];
  responses: Record<string, unknown>;
  security?: unknown[];
};

const errorResponse = (description: string, ref: string): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** The error answers every route may give, added once here rather than on each handler. */
function addErrorResponses(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      if (!operation?.responses) {
        continue;
      }
      const responses = operation.responses;
      const takesInput = !!operation.requestBody || (operation.parameters ?? []).length > 0;
      if (takesInput) {
        responses['422'] ??= errorResponse('Invalid request', 'ValidationErrorResponse');
      }
      if ((operation.parameters ?? []).some((p) => p.in === 'path')) {
        responses['404'] ??= errorResponse('Not found', 'ErrorDetailResponse');
      }
      if (PUBLIC_PATHS.includes(path)) {
        operation.security = [];
      } else {
        responses['401'] ??= errorResponse(
          'The auth string is set and the request lacks it',
          'ErrorDetailResponse',
        );
      }
      responses['503'] ??= errorResponse('The database is unreachable', 'ErrorDetailResponse');
    }
  }
}

/**
 * Properties described as "Any JSON value" carry no `type` (swagger fills in `object` from the TypeScript
 * design type of `unknown`), so generated clients see `unknown`, which is what they are.
 */
function untypeAnyJson(node: unknown): void {
  if (!node || typeof node !== 'object') {
    return;
  }
  const schema = node as Record<string, unknown>;
  if (typeof schema.description === 'string' && schema.description.startsWith(ANY_JSON)) {
    delete schema.type;
  }
  for (const value of Object.values(schema)) {
    untypeAnyJson(value);
  }
}

/** Build the OpenAPI document of `app` (an app created with or without `preview: true`). */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  deriveRequestSchemas();
  nameRequestSchemas();
  const builder = new DocumentBuilder()
    .setTitle('Prefect task runs server')
    .setDescription(WEBSOCKETS_DESCRIPTION)
    .setVersion('3')
    .addBasicAuth(
      {
        type: 'http',
        scheme: 'basic',
        description:
          'Only when PREFECT_SERVER_API_AUTH_STRING is set: `Authorization: Basic base64(<auth string>)`, ' +
          'as Prefect clients send it. /api/health and /api/ready stay open.',
      },
      'basic',
    )
    .addSecurityRequirements('basic');
  for (const [name, description] of TAGS) {
    builder.addTag(name, description);
  }
  const document = SwaggerModule.createDocument(app, builder.build(), {
    extraModels: [
      ...ORCHESTRATION_DETAILS_MODELS,
      ValidationErrorResponse,
      ErrorDetailResponse,
      EventRelatedFilterModel,
      EventAnyResourceFilterModel,
      TaskRunInputResponse,
    ],
  });
  addErrorResponses(document);
  untypeAnyJson(document.components?.schemas);
  return document;
}
