import { Type } from 'class-transformer';
import { IsArray, IsOptional, IsString, ValidateNested } from 'class-validator';

export class TaskWorkerFilterDto {
  @IsArray()
  @IsString({ each: true })
  task_keys!: string[];
}

/** Body of `POST /task_workers/filter` (every field optional; an empty body lists every worker). */
export class ReadTaskWorkersDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => TaskWorkerFilterDto)
  task_worker_filter?: TaskWorkerFilterDto | null;
}
