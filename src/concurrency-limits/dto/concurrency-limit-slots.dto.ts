import { IsArray, IsString, IsUUID } from 'class-validator';

/** Body of `POST /concurrency_limits/increment` and `/decrement`: the tags and the task run holding the slots. */
export class ConcurrencyLimitSlotsDto {
  @IsArray()
  @IsString({ each: true })
  names!: string[];

  @IsUUID()
  task_run_id!: string;
}
