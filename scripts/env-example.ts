/**
 * Writes `.env.example` from src/config/settings.schema.ts: every setting, its default and one line of
 * meaning. `npm run env:example` regenerates it; a unit test fails when the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderEnvExample } from '../src/config/env-example';

writeFileSync(resolve(__dirname, '..', '.env.example'), renderEnvExample());
process.stdout.write('wrote .env.example\n');
