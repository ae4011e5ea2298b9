import { Setting, SettingsBlock } from './setting';
import { settingsSchema } from './settings.schema';

function renderDefault(value: unknown): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

const TITLES: Record<keyof typeof settingsSchema, string> = {
  server: 'HTTP server, logging and shutdown',
  database: 'Database (PostgreSQL; embedded when DATABASE_URL is unset)',
  api: 'API',
  taskRunRecorder: 'Task run recorder service',
  eventPersister: 'Event persister service',
  dbVacuum: 'Retention service (deletes old events in bounded batches)',
  taskRunCounts: 'Task-run counts service (folds the maintained counts of /task_runs/count)',
  events: 'Events',
  tasks: 'Background tasks and task orchestration',
};

/** The text of `.env.example`: every setting commented out with its default. */
export function renderEnvExample(): string {
  const lines = [
    '# Every setting of the server, with its default. Copy to .env (read at start if present) and uncomment what',
    '# you change; real environment variables win over .env. Durations take seconds (5, 0.5) or ISO-8601 (PT5S).',
    '# Generated from src/config/settings.schema.ts by `npm run env:example`.',
  ];
  for (const [key, block] of Object.entries(settingsSchema) as [
    keyof typeof settingsSchema,
    SettingsBlock,
  ][]) {
    lines.push('', `# --- ${TITLES[key]}`);
    for (const spec of Object.values<Setting<unknown>>(block)) {
      const aliases = spec.aliases.length ? ` (alias: ${spec.aliases.join(', ')})` : '';
      lines.push(`# ${spec.description}${aliases}`, `# ${spec.env}=${renderDefault(spec.defaultValue)}`);
    }
  }
  return lines.join('\n') + '\n';
}
