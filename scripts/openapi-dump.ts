import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../src/app.module';
import { API_PREFIX } from '../src/app.setup';
import { AppConfig } from '../src/config/app-config';
import { createOpenApiDocument } from '../src/openapi/openapi.document';

/**
 * `npm run openapi:dump [-- path]`: write the OpenAPI document (default `openapi.json`) without a database or a
 * listening server. Nest's preview mode builds the module graph without instantiating providers, so nothing
 * connects anywhere.
 */
async function main(): Promise<void> {
  const out = process.argv[2] ?? 'openapi.json';
  const config = AppConfig.fromEnv({});
  const app = await NestFactory.create(
    AppModule.forRoot({ config, databaseUrl: 'postgres://unused@127.0.0.1:1/unused' }),
    { preview: true, logger: false },
  );
  app.setGlobalPrefix(API_PREFIX);
  const document = createOpenApiDocument(app);
  writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
  await app.close();
  process.stdout.write(`wrote ${out} (${Object.keys(document.paths).length} paths)\n`);
}

void main();
