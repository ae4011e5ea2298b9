import { IsUUID } from 'class-validator';

/** `GET /task_run_states/?task_run_id=`. */
export class ReadTaskRunStatesQueryDto {
  @IsUUID('all')
  task_run_id!: string;
}
