import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiAuthGuard } from './api-auth.guard';
import { ApiAuthService } from './api-auth.service';

/**
 * Authentication with `PREFECT_SERVER_API_AUTH_STRING`: the global HTTP guard, and `ApiAuthService` for the
 * few HTTP handlers that live outside the Nest router (the OpenAPI document and docs page).
 */
@Global()
@Module({
  providers: [ApiAuthService, { provide: APP_GUARD, useClass: ApiAuthGuard }],
  exports: [ApiAuthService],
})
export class AuthModule {}
