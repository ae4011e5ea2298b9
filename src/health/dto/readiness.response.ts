import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'ReadinessDatabase' })
export class ReadinessDatabase {
  @ApiProperty({ type: 'boolean' }) ok!: boolean;
  @ApiPropertyOptional({ type: 'string' }) detail?: string;
}

@ApiSchema({ name: 'ServiceReport' })
export class ServiceReportModel {
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty({ type: 'string' }) env_var!: string;
  @ApiProperty({ type: 'boolean' }) enabled!: boolean;
  @ApiProperty({ type: 'string' }) description!: string;
  @ApiProperty({ type: 'string', enum: ['stopped', 'starting', 'running', 'stopping', 'failed'] })
  status!: string;
  @ApiPropertyOptional({ type: 'string' }) detail?: string;
}

/** `GET /ready`: 200 when ready, else 503 with the same body. */
@ApiSchema({ name: 'Readiness' })
export class ReadinessModel {
  @ApiProperty({ type: 'boolean' }) ready!: boolean;
  @ApiProperty({ type: () => ReadinessDatabase }) database!: ReadinessDatabase;
  @ApiProperty({ type: () => [ServiceReportModel] }) services!: ServiceReportModel[];
  @ApiProperty({ type: 'array', items: { type: 'string' }, description: 'What is down, one line each.' })
  down!: string[];
}
