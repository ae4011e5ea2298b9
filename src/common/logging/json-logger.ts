import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';

/** Nest's start-up chatter (one line per module and route) is debug, not info: quiet by default. */
const CHATTY_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'WebSocketsController',
]);

const ORDER: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];

/** `LOG_LEVEL` names (`info` is Nest's `log`) → the levels Nest should emit. */
export function levelsFrom(level: string): LogLevel[] {
  const nestLevel = (level === 'info' ? 'log' : level) as LogLevel;
  const index = Math.max(0, ORDER.indexOf(nestLevel));
  return ORDER.slice(index);
}

/**
 * Structured logs: one JSON object per line on stdout (errors on stderr), with `time`, `level`, `context`
 * and either `msg` or the fields of an object message. Quiet by default: `info` logs lifecycle only.
 */
export class JsonLogger implements LoggerService {
  private readonly enabled: Set<LogLevel>;

  constructor(level: string) {
    this.enabled = new Set(levelsFrom(level));
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
  setLogLevels(levels: LogLevel[]): void {
    this.enabled.clear();
    for (const l of levels) this.enabled.add(l);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]): void {
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    if (level === 'log' && context && CHATTY_CONTEXTS.has(context)) level = 'debug';
    if (!this.enabled.has(level)) return;
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: level === 'log' ? 'info' : level,
      ...(context ? { context } : {}),
    };
    if (message && typeof message === 'object' && !(message instanceof Error)) Object.assign(entry, message);
    else entry.msg = message instanceof Error ? message.message : String(message);
    if (message instanceof Error && message.stack) entry.stack = message.stack;
    for (const extra of rest) {
      if (typeof extra === 'string' && extra.includes('\n')) entry.stack = extra;
      else if (extra !== undefined) entry.detail = extra instanceof Error ? extra.stack : extra;
    }
    const line = JSON.stringify(entry) + '\n';
    if (level === 'error' || level === 'fatal') process.stderr.write(line);
    else process.stdout.write(line);
  }
}

export function createLogger(level: string, format: 'json' | 'pretty'): LoggerService {
  if (format === 'pretty') return new ConsoleLogger({ logLevels: levelsFrom(level) });
  return new JsonLogger(level);
}
