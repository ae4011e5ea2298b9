import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { AppConfig } from './app-config';
import { Env } from './setting';

/**
 * The one place that reads `process.env`. A `.env` file in the working directory is read if present;
 * variables set in the real environment win over it.
 */
export function readProcessEnv(): Env {
  const dotenv = resolve(process.cwd(), '.env');
  const fromFile = existsSync(dotenv) ? parseEnv(readFileSync(dotenv, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export function loadConfig(overrides: Env = {}): AppConfig {
  return AppConfig.fromEnv({ ...readProcessEnv(), ...overrides });
}
