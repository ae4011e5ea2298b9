import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/* Error bodies as Prefect (FastAPI) shapes them (docs/reference.md §0, "Errors"). */

@ApiSchema({ name: 'ValidationErrorDetail' })
export class ValidationErrorDetail {
  @ApiProperty({ type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'integer' }] } })
  loc!: (string | number)[];
  @ApiProperty({ type: 'string' }) msg!: string;
  @ApiProperty({ type: 'string' }) type!: string;
  @ApiPropertyOptional({ description: 'Any JSON value: the offending value.' }) input?: unknown;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) ctx?: Record<string, unknown>;
}

/** 422: what was wrong, where, and the body as received. */
@ApiSchema({ name: 'ValidationErrorResponse' })
export class ValidationErrorResponse {
  @ApiProperty({ type: 'string', example: 'Invalid request received.' }) exception_message!: string;
  @ApiProperty({ type: () => [ValidationErrorDetail] }) exception_detail!: ValidationErrorDetail[];
  @ApiProperty({ nullable: true, description: 'Any JSON value: the request body as received.' })
  request_body!: unknown;
}

/** Other errors: `{"detail": …}` (HTTP errors) or `{"exception_message": …}` (404 of set_state, 500, 503). */
@ApiSchema({ name: 'ErrorDetailResponse' })
export class ErrorDetailResponse {
  @ApiPropertyOptional({ type: 'string' }) detail?: string;
  @ApiPropertyOptional({ type: 'string' }) exception_message?: string;
}
