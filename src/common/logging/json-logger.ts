import { LoggerService, LogLevel } from '@nestjs/common';
import pino, { DestinationStream, Logger as Pino, LevelWithSilent } from 'pino';
import pinoPretty from 'pino-pretty';
import { currentRequestId } from './request-context';

/** Nest's start-up chatter (one line per module and route) is debug, not info: quiet by default. */
const CHATTY_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
  'WebSocketsController',
]);

const ORDER: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];

/** `LOG_LEVEL` names (`info` is Nest's `log`) → the levels Nest should emit. */
export function levelsFrom(level: string): LogLevel[] {
  const nestLevel = (level === 'info' ? 'log' : level) as LogLevel;
  const index = Math.max(0, ORDER.indexOf(nestLevel));
  return ORDER.slice(index);
}

/** Nest level → pino level. */
const PINO_LEVEL: Record<LogLevel, LevelWithSilent> = {
  verbose: 'trace',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};

/** `LOG_LEVEL` → pino's level name. */
function pinoLevel(level: string): LevelWithSilent {
  return PINO_LEVEL[(level === 'info' ? 'log' : level) as LogLevel] ?? 'info';
}

export type LogFormat = 'json' | 'pretty';

/**
 * The process's pino instance: JSON lines (`time`, `level`, `context`, `request_id` inside a request, `msg`
 * or the fields of an object message) with errors on stderr and the rest on stdout; or, for `pretty`, one
 * human line per message, coloured only when stdout is a terminal (docs/operating.md, "Logs").
 */
export function createPino(level: string, format: LogFormat, destination?: DestinationStream): Pino {
  const options: pino.LoggerOptions = {
    level: pinoLevel(level),
    base: undefined,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const requestId = currentRequestId();
      return requestId ? { request_id: requestId } : {};
    },
  };
  if (destination) {
    return pino(options, destination);
  }
  if (format === 'pretty') {
    const pretty = pinoPretty({
      colorize: !!process.stdout.isTTY,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'context',
      messageFormat: '{if context}[{context}] {end}{msg}',
      destination: process.stdout,
      sync: true,
    });
    return pino(options, pretty);
  }
  return pino(
    options,
    pino.multistream(
      [
        { level: 'trace', stream: process.stdout },
        { level: 'error', stream: process.stderr },
      ],
      { dedupe: true },
    ),
  );
}

/** Nest's `LoggerService` on pino: `new Logger(Foo.name)` everywhere writes through it. */
export class PinoLogger implements LoggerService {
  private enabled: Set<LogLevel>;

  constructor(
    readonly pino: Pino,
    level: string,
  ) {
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
    this.enabled = new Set(levels);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]): void {
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    if (level === 'log' && context && CHATTY_CONTEXTS.has(context)) {
      level = 'debug';
    }
    if (!this.enabled.has(level)) {
      return;
    }
    const entry: Record<string, unknown> = context ? { context } : {};
    if (message && typeof message === 'object' && !(message instanceof Error)) {
      Object.assign(entry, message);
    } else {
      entry.msg = message instanceof Error ? message.message : String(message);
    }
    if (message instanceof Error && message.stack) {
      entry.stack = message.stack;
    }
    for (const extra of rest) {
      if (typeof extra === 'string' && extra.includes('\n')) {
        entry.stack = extra;
      } else if (extra !== undefined) {
        entry.detail = extra instanceof Error ? extra.stack : extra;
      }
    }
    const pinoLevelName = PINO_LEVEL[level] as Exclude<LevelWithSilent, 'silent'>;
    this.pino[pinoLevelName](entry);
  }
}

/** The Nest logger of a process (`main.ts`, `cli.ts`, tests): pino in the given format. */
export function createLogger(level: string, format: LogFormat, destination?: DestinationStream): PinoLogger {
  return new PinoLogger(createPino(level, format, destination), level);
}
