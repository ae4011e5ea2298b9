import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  ValidateNested,
} from 'class-validator';
import { StateCreateDto } from '../../orchestration/dto/state-create.dto';
import { IsJsonObject, IsLabels } from '../../orchestration/dto/wire-validators';

/** FlowCreate. */
export class CreateFlowDto {
  @IsString()
  @IsNotEmpty()
  name!: string;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  tags?: string[];

  @IsOptional()
  @IsLabels()
  labels?: Record<string, string | number | boolean> | null;
}

/** FlowRunCreate: the fields this minimal server stores (others Prefect sends are accepted and ignored). */
export class CreateFlowRunDto {
  @IsUUID('all')
  flow_id!: string;

  @IsOptional()
  @IsUUID('all')
  id?: string | null;

  @IsOptional()
  @IsString()
  name?: string | null;

  @IsOptional()
  @ValidateNested()
  @Type(() => StateCreateDto)
  state?: StateCreateDto | null;

  @IsOptional()
  @IsUUID('all')
  deployment_id?: string | null;

  @IsOptional()
  @IsString()
  flow_version?: string | null;

  @IsOptional()
  @IsJsonObject()
  parameters?: Record<string, unknown>;

  @IsOptional()
  @IsJsonObject()
  context?: Record<string, unknown>;

  @IsOptional()
  @IsUUID('all')
  parent_task_run_id?: string | null;

  @IsOptional()
  @IsJsonObject()
  empirical_policy?: Record<string, unknown>;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  tags?: string[];

  @IsOptional()
  @IsLabels()
  labels?: Record<string, string | number | boolean> | null;

  @IsOptional()
  @IsString()
  idempotency_key?: string | null;

  @IsOptional()
  @IsString()
  work_pool_name?: string | null;

  @IsOptional()
  @IsString()
  work_queue_name?: string | null;

  @IsOptional()
  @IsJsonObject()
  job_variables?: Record<string, unknown> | null;

  @IsOptional()
  @IsUUID('all')
  infrastructure_document_id?: string | null;

  @IsOptional()
  @IsJsonObject()
  created_by?: Record<string, unknown> | null;
}

/** `POST /flow_runs/{id}/set_state` body. */
export class SetFlowRunStateDto {
  @IsDefined()
  @ValidateNested()
  @Type(() => StateCreateDto)
  state!: StateCreateDto;

  @IsOptional()
  @IsBoolean()
  force?: boolean;
}
