/**
 * Every setting of the server, grouped in blocks. Prefect's own names and defaults where Prefect has the
 * setting (docs/reference.md §5.2); our own names otherwise. `.env.example` is checked against this file by a unit test.
 */
import { setting } from './setting';

const SERVICES = 'PREFECT_SERVER_SERVICES';

export const serverSettings = {
  host: setting.str('HOST', '127.0.0.1', {
    aliases: ['PREFECT_SERVER_API_HOST'],
    description: 'Interface the HTTP server binds to.',
    nonEmpty: true,
  }),
  port: setting.int('PORT', 4200, {
    aliases: ['PREFECT_SERVER_API_PORT'],
    description: 'HTTP port (0 picks a free one).',
    min: 0,
    max: 65535,
  }),
  logLevel: setting.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'verbose'], {
    description: 'Lowest log level written (fatal, error, warn, info, debug, verbose).',
  }),
  logFormat: setting.oneOf('LOG_FORMAT', 'json', ['json', 'pretty'], {
    description: 'json: one JSON object per line; pretty: coloured lines for a terminal.',
  }),
  bodyLimit: setting.str('HTTP_BODY_LIMIT', '10mb', { description: 'Largest accepted HTTP request body.' }),
  runServices: setting.bool('SERVER_RUN_SERVICES', true, {
    description:
      'The API process also runs the enabled services (false: API only; run them with `services start`).',
  }),
  shutdownTimeout: setting.duration('SHUTDOWN_TIMEOUT', 30, {
    description:
      'Longest a graceful shutdown may take before the process exits anyway (seconds or ISO-8601).',
    min: 1,
  }),
  bodyMaxDepth: setting.int('HTTP_BODY_MAX_DEPTH', 256, {
    description: 'Deepest nesting of arrays/objects accepted in a JSON request body (deeper: 422).',
    min: 1,
    max: 10000,
  }),
  bodyMaxObjectKeys: setting.int('HTTP_BODY_MAX_OBJECT_KEYS', 10_000, {
    description:
      'Most keys one JSON object of a request body may have (e.g. `labels`, `parameters`, `task_inputs`; more: 422).',
    min: 1,
  }),
  idleConnectionTimeout: setting.duration('HTTP_IDLE_CONNECTION_TIMEOUT', 10, {
    description:
      'A TCP connection that has not started a request within this time is closed (seconds; also between bytes of the first request head).',
    min: 0.05,
  }),
  headersTimeout: setting.duration('HTTP_HEADERS_TIMEOUT', 20, {
    description:
      'Longest time to receive a request head (seconds; checked every few seconds, so a little more in practice).',
    min: 0.05,
  }),
  requestTimeout: setting.duration('HTTP_REQUEST_TIMEOUT', 60, {
    description: 'Longest time to receive a whole request, body included (seconds).',
    min: 0.05,
  }),
  keepAliveTimeout: setting.duration('HTTP_KEEP_ALIVE_TIMEOUT', 5, {
    description: 'How long an idle keep-alive connection stays open after a response (seconds).',
    min: 0.05,
  }),
  websocketMaxMessageSize: setting.int('WEBSOCKET_MAX_MESSAGE_SIZE', 1_048_576, {
    description:
      'Largest websocket message, in bytes (larger: close 1009). /api/events/in allows an event of PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES plus 64 KiB instead.',
    min: 1024,
  }),
  websocketCloseGrace: setting.duration('WEBSOCKET_CLOSE_GRACE', 2, {
    description:
      'After the server closes a websocket, how long the client has to answer the close before the connection is dropped (seconds).',
    min: 0.05,
  }),
  servicesMetricsPort: setting.int('SERVICES_METRICS_PORT', 0, {
    description: '`services start` serves GET /metrics (Prometheus text) on HOST at this port; 0: off.',
    min: 0,
    max: 65535,
  }),
  deadLetterReplayerEnabled: setting.bool(`${SERVICES}_DEAD_LETTER_REPLAYER_ENABLED`, true, {
    description: 'Run the service that carries out dead-letter replays asked on API replicas.',
  }),
  deadLetterReplayerLoopSeconds: setting.duration(`${SERVICES}_DEAD_LETTER_REPLAYER_LOOP_SECONDS`, 5, {
    description: 'How often the dead-letter replayer looks for replays to carry out (seconds).',
    min: 0.01,
  }),
};

export const databaseSettings = {
  url: setting.postgresUrl('DATABASE_URL', {
    aliases: ['PREFECT_SERVER_DATABASE_CONNECTION_URL', 'PREFECT_API_DATABASE_CONNECTION_URL'],
    description:
      'PostgreSQL URL (postgresql+asyncpg:// is read as postgresql://); unset runs an embedded PostgreSQL under DATABASE_EMBEDDED_DIR.',
  }),
  poolSize: setting.int('DATABASE_POOL_SIZE', 10, {
    description: 'Connections in the pool.',
    min: 1,
    max: 1000,
  }),
  migrateOnStart: setting.bool('DATABASE_MIGRATE_ON_START', true, {
    description: 'Run pending migrations when the server starts.',
  }),
  embeddedDir: setting.str('DATABASE_EMBEDDED_DIR', './.data/postgres', {
    description: 'Data directory of the embedded PostgreSQL (used only when DATABASE_URL is unset).',
    nonEmpty: true,
  }),
  embeddedPort: setting.int('DATABASE_EMBEDDED_PORT', 0, {
    description: 'Port of the embedded PostgreSQL on 127.0.0.1 (0 picks a free one).',
    min: 0,
    max: 65535,
  }),
  statementTimeout: setting.duration('DATABASE_STATEMENT_TIMEOUT', 60, {
    description: 'Server-side statement timeout for API queries (seconds; 0 disables).',
  }),
  connectTimeout: setting.duration('DATABASE_CONNECT_TIMEOUT', 5, {
    aliases: ['PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT'],
    description:
      'Longest wait for a database connection, from the pool or a new one (seconds); past it: 503.',
    min: 0.05,
  }),
  queryTimeout: setting.duration('DATABASE_QUERY_TIMEOUT', 10, {
    aliases: ['PREFECT_SERVER_DATABASE_TIMEOUT'],
    description:
      'Client-side deadline of every query (seconds; 0 disables): a frozen or unreachable database gives 503, never a hang.',
    min: 0,
  }),
  readinessTimeout: setting.duration('DATABASE_READINESS_TIMEOUT', 2, {
    description: 'How long /api/ready waits for the database (own connection and SELECT 1) before 503.',
    min: 0.05,
  }),
};

export const apiSettings = {
  defaultLimit: setting.int('PREFECT_SERVER_API_DEFAULT_LIMIT', 200, {
    aliases: ['PREFECT_API_DEFAULT_LIMIT'],
    description: 'Default and maximum `limit` of list/filter routes.',
    min: 1,
  }),
  authString: setting.optionalStr('PREFECT_SERVER_API_AUTH_STRING', {
    description: 'When set, HTTP routes need it as basic auth and websockets in their auth message.',
  }),
};

export const taskRunRecorderSettings = {
  enabled: setting.bool(`${SERVICES}_TASK_RUN_RECORDER_ENABLED`, true, {
    aliases: ['PREFECT_API_SERVICES_TASK_RUN_RECORDER_ENABLED'],
    description: 'Run the task run recorder (task runs from client events).',
  }),
  readBatchSize: setting.int(`${SERVICES}_TASK_RUN_RECORDER_READ_BATCH_SIZE`, 1, {
    description: 'Messages read from the bus at a time.',
    min: 1,
  }),
  batchSize: setting.int(`${SERVICES}_TASK_RUN_RECORDER_BATCH_SIZE`, 500, {
    description: 'Events recorded per flush (upstream: 1; larger is much faster, see bench/).',
    min: 1,
  }),
  flushInterval: setting.duration(`${SERVICES}_TASK_RUN_RECORDER_FLUSH_INTERVAL`, 5, {
    description: 'Longest an event waits before it is recorded (seconds).',
    min: 0.001,
  }),
  maxPersistRetries: setting.int(`${SERVICES}_TASK_RUN_RECORDER_MAX_PERSIST_RETRIES`, 5, {
    description: 'Failed flush attempts of an event before it goes to the dead-letter table.',
    min: 0,
  }),
  concurrentFlushes: setting.int(`${SERVICES}_TASK_RUN_RECORDER_CONCURRENT_FLUSHES`, 2, {
    description:
      'Batches the recorder writes at once (not in upstream; 2 overlaps mapping with the database, see bench/).',
    min: 1,
    max: 16,
  }),
};

export const eventPersisterSettings = {
  enabled: setting.bool(`${SERVICES}_EVENT_PERSISTER_ENABLED`, true, {
    aliases: ['PREFECT_API_SERVICES_EVENT_PERSISTER_ENABLED'],
    description: 'Run the event persister (events into PostgreSQL).',
  }),
  batchSize: setting.int(`${SERVICES}_EVENT_PERSISTER_BATCH_SIZE`, 20, {
    description: 'Flush when this many events are buffered.',
    min: 1,
  }),
  readBatchSize: setting.int(`${SERVICES}_EVENT_PERSISTER_READ_BATCH_SIZE`, 1, {
    description: 'Messages read from the bus at a time.',
    min: 1,
  }),
  flushInterval: setting.duration(`${SERVICES}_EVENT_PERSISTER_FLUSH_INTERVAL`, 5, {
    description: 'Longest an event waits in the buffer (seconds).',
    min: 0.001,
  }),
  queueMaxSize: setting.int(`${SERVICES}_EVENT_PERSISTER_QUEUE_MAX_SIZE`, 50000, {
    description: 'Buffered events at most; past it ingestion answers 429 with Retry-After.',
    min: 1,
  }),
  maxFlushRetries: setting.int(`${SERVICES}_EVENT_PERSISTER_MAX_FLUSH_RETRIES`, 5, {
    description: 'Failed attempts of a batch before it goes to the dead-letter table.',
    min: 0,
  }),
  concurrentFlushes: setting.int(`${SERVICES}_EVENT_PERSISTER_CONCURRENT_FLUSHES`, 1, {
    description: 'Write statements (of up to 2000 events each) the persister keeps in flight.',
    min: 1,
    max: 16,
  }),
};

/** The TaskRunCounts service (src/services/task-run-counts/; docs/performance.md, "Queries, second round"). */
export const taskRunCountsSettings = {
  enabled: setting.bool(`${SERVICES}_TASK_RUN_COUNTS_ENABLED`, true, {
    description: 'Run the service that folds the maintained task-run counts (what /task_runs/count reads).',
  }),
  loopSeconds: setting.duration(`${SERVICES}_TASK_RUN_COUNTS_LOOP_SECONDS`, 2, {
    description: 'How often the task-run count deltas are folded (seconds).',
    min: 0.01,
  }),
  batchSize: setting.int(`${SERVICES}_TASK_RUN_COUNTS_BATCH_SIZE`, 5000, {
    description: 'Delta rows folded per short transaction.',
    min: 20,
    max: 1_000_000,
  }),
};

export const dbVacuumSettings = {
  enabled: setting.bool(`${SERVICES}_DB_VACUUM_ENABLED`, true, {
    description: 'Run the retention service that deletes old events in bounded batches.',
  }),
  loopSeconds: setting.duration(`${SERVICES}_DB_VACUUM_LOOP_SECONDS`, 3600, {
    description: 'How often the retention service runs (seconds).',
    min: 0.01,
  }),
  batchSize: setting.int(`${SERVICES}_DB_VACUUM_BATCH_SIZE`, 200, {
    description: 'Rows deleted per short transaction.',
    min: 1,
  }),
  eventRetentionOverrides: setting.json<Record<string, number>>(
    `${SERVICES}_DB_VACUUM_EVENT_RETENTION_OVERRIDES`,
    { 'prefect.flow-run.heartbeat': 7 * 86400 },
    {
      description: 'JSON map of event name to retention seconds (capped by the global retention).',
      check: (value) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new Error('expected a JSON object of event name to seconds');
        }
        for (const [k, v] of Object.entries(value)) {
          if (typeof v !== 'number' || !(v >= 0)) {
            throw new Error(`retention of ${k} must be a number of seconds`);
          }
        }
        return value as Record<string, number>;
      },
    },
  ),
};

export const eventsSettings = {
  retentionPeriod: setting.duration('PREFECT_SERVER_EVENTS_RETENTION_PERIOD', 7 * 86400, {
    aliases: ['PREFECT_EVENTS_RETENTION_PERIOD'],
    description: 'Events older than this are deleted by the retention service.',
    min: 0,
  }),
  maximumLabelsPerResource: setting.int('PREFECT_SERVER_EVENTS_MAXIMUM_LABELS_PER_RESOURCE', 500, {
    aliases: ['PREFECT_EVENTS_MAXIMUM_LABELS_PER_RESOURCE'],
    description: 'Labels a resource may carry.',
    min: 1,
  }),
  maximumRelatedResources: setting.int('PREFECT_SERVER_EVENTS_MAXIMUM_RELATED_RESOURCES', 100, {
    aliases: ['PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES'],
    description: 'Related resources an event may carry.',
    min: 0,
  }),
  maximumSizeBytes: setting.int('PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES', 1_500_000, {
    aliases: ['PREFECT_EVENTS_MAXIMUM_SIZE_BYTES'],
    description: 'Largest accepted event, in bytes of JSON.',
    min: 1,
  }),
  maximumEventNameLength: setting.int('PREFECT_SERVER_EVENTS_MAXIMUM_EVENT_NAME_LENGTH', 1024, {
    aliases: ['PREFECT_EVENTS_MAXIMUM_EVENT_NAME_LENGTH'],
    description: 'Longest accepted event name.',
    min: 1,
  }),
  maximumWebsocketBackfill: setting.duration('PREFECT_SERVER_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL', 15 * 60, {
    aliases: ['PREFECT_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL'],
    description: 'How far back /events/out backfills.',
    min: 0,
  }),
  websocketBackfillPageSize: setting.int('PREFECT_SERVER_EVENTS_WEBSOCKET_BACKFILL_PAGE_SIZE', 250, {
    aliases: ['PREFECT_EVENTS_WEBSOCKET_BACKFILL_PAGE_SIZE'],
    description: 'Rows per backfill query of /events/out.',
    min: 1,
  }),
  messagingBroker: setting.oneOf(
    'PREFECT_SERVER_EVENTS_MESSAGING_BROKER',
    'postgres',
    ['postgres', 'redis', 'memory'],
    {
      aliases: ['PREFECT_MESSAGING_BROKER'],
      description:
        'Event bus: postgres (durable log in the database, default), redis (Redis Streams) or memory (tests: a crash loses what is queued).',
    },
  ),
  commitWindow: setting.duration('PREFECT_SERVER_EVENTS_COMMIT_WINDOW', 0.002, {
    description:
      'postgres broker: how long an accepted event waits for others to share its commit (seconds; at most 0.02).',
    min: 0,
  }),
  redisUrl: setting.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'], {
    description: 'Redis URL, used when the messaging broker is redis.',
  }),
  redisStream: setting.str('PREFECT_SERVER_EVENTS_REDIS_STREAM', 'prefect:events', {
    description: 'Redis stream (key) that carries events when the messaging broker is redis.',
    nonEmpty: true,
  }),
  redisClaimIdle: setting.duration('PREFECT_SERVER_EVENTS_REDIS_CLAIM_IDLE', 30, {
    description: 'An event pending this long with a silent consumer is claimed by another (seconds).',
    min: 0.05,
  }),
};

export const tasksSettings = {
  maxScheduledQueueSize: setting.int('PREFECT_SERVER_TASKS_SCHEDULING_MAX_SCHEDULED_QUEUE_SIZE', 1000, {
    aliases: ['PREFECT_TASK_SCHEDULING_MAX_SCHEDULED_QUEUE_SIZE'],
    description: 'Scheduled background runs buffered per task key.',
    min: 1,
  }),
  maxRetryQueueSize: setting.int('PREFECT_SERVER_TASKS_SCHEDULING_MAX_RETRY_QUEUE_SIZE', 100, {
    aliases: ['PREFECT_TASK_SCHEDULING_MAX_RETRY_QUEUE_SIZE'],
    description: 'Retried background runs buffered per task key.',
    min: 1,
  }),
  deliveryLease: setting.duration('PREFECT_SERVER_TASKS_SCHEDULING_DELIVERY_LEASE', 30, {
    description: 'A delivered background run not acked within this time goes back to its retry queue.',
    min: 0.05,
  }),
  tagConcurrencySlotWaitSeconds: setting.duration(
    'PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS',
    10,
    {
      aliases: ['PREFECT_TASK_RUN_TAG_CONCURRENCY_SLOT_WAIT_SECONDS'],
      description: 'Mean wait before a task run retries a full tag concurrency limit.',
      min: 0,
    },
  ),
  maxCacheKeyLength: setting.int('PREFECT_SERVER_TASKS_MAX_CACHE_KEY_LENGTH', 2000, {
    aliases: ['PREFECT_API_TASK_CACHE_KEY_MAX_LENGTH'],
    description: 'Longest cache key that is stored.',
    min: 1,
  }),
};

export const settingsSchema = {
  server: serverSettings,
  database: databaseSettings,
  api: apiSettings,
  taskRunRecorder: taskRunRecorderSettings,
  eventPersister: eventPersisterSettings,
  dbVacuum: dbVacuumSettings,
  taskRunCounts: taskRunCountsSettings,
  events: eventsSettings,
  tasks: tasksSettings,
} as const;
