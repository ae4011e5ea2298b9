/**
 * A tiny declarative settings parser. Each setting knows its environment variable, its default and how to
 * parse a raw string; `parseBlock` turns a block of settings into a typed object or throws a `ConfigError`
 * whose message is one line naming the variable and the reason.
 */
import { parseDurationSeconds } from './duration';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface Setting<T> {
  readonly env: string;
  readonly aliases: readonly string[];
  readonly defaultValue: T;
  /** One line for `.env.example` and the docs. */
  readonly description: string;
  parse(raw: string): T;
}

interface Common {
  aliases?: readonly string[];
  description: string;
}

function make<T>(env: string, defaultValue: T, opts: Common, parse: (raw: string) => T): Setting<T> {
  return { env, aliases: opts.aliases ?? [], defaultValue, description: opts.description, parse };
}

function fail(reason: string): never {
  throw new Error(reason);
}

export const setting = {
  int(env: string, def: number, opts: Common & { min?: number; max?: number }): Setting<number> {
    return make(env, def, opts, (raw) => {
      if (!/^[+-]?\d+$/.test(raw.trim())) {
        fail(`expected an integer, got ${JSON.stringify(raw)}`);
      }
      const value = Number(raw);
      if (opts.min !== undefined && value < opts.min) {
        fail(`must be >= ${opts.min}, got ${value}`);
      }
      if (opts.max !== undefined && value > opts.max) {
        fail(`must be <= ${opts.max}, got ${value}`);
      }
      return value;
    });
  },
  bool(env: string, def: boolean, opts: Common): Setting<boolean> {
    return make(env, def, opts, parseBool);
  },
  str(env: string, def: string, opts: Common & { nonEmpty?: boolean }): Setting<string> {
    return make(env, def, opts, (raw) => {
      if (opts.nonEmpty && raw.trim() === '') {
        fail('must not be empty');
      }
      return raw;
    });
  },
  optionalStr(env: string, opts: Common): Setting<string | undefined> {
    return make<string | undefined>(env, undefined, opts, (raw) => (raw === '' ? undefined : raw));
  },
  oneOf<const T extends string>(env: string, def: T, values: readonly T[], opts: Common): Setting<T> {
    return make(env, def, opts, (raw) => {
      const value = raw.trim().toLowerCase() as T;
      if (!values.includes(value)) {
        fail(`expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return value;
    });
  },
  /** A duration in seconds; accepts `5`, `0.5` or ISO-8601 (`PT5S`, `P7D`). */
  duration(env: string, defSeconds: number, opts: Common & { min?: number }): Setting<number> {
    return make(env, defSeconds, opts, (raw) => {
      const seconds = parseDurationSeconds(raw);
      if (opts.min !== undefined && seconds < opts.min) {
        fail(`must be at least ${opts.min} seconds`);
      }
      return seconds;
    });
  },
  url(
    env: string,
    def: string | undefined,
    protocols: readonly string[],
    opts: Common,
  ): Setting<string | undefined> {
    return make(env, def, opts, (raw) => {
      if (raw === '') {
        return undefined;
      }
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        fail('not a valid URL');
      }
      if (!protocols.includes(parsed.protocol)) {
        fail(`expected a ${protocols.join(' or ')} URL`);
      }
      return raw;
    });
  },
  /**
   * A PostgreSQL URL. SQLAlchemy's driver forms Prefect users have (`postgresql+asyncpg://`,
   * `postgresql+psycopg://`, `postgres+…`) are normalised to `postgresql://`, with asyncpg's `ssl=<mode>`
   * query parameter read as libpq's `sslmode`. SQLite URLs are refused with the reason.
   */
  postgresUrl(env: string, opts: Common): Setting<string | undefined> {
    return make<string | undefined>(env, undefined, opts, (raw) => {
      if (raw.trim() === '') {
        return undefined;
      }
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw.trim())?.[1]?.toLowerCase();
      const [base, driver] = (scheme ?? '').split('+', 2);
      if (base === 'sqlite') {
        fail('SQLite is not supported; use a PostgreSQL URL (postgresql://…)');
      }
      if (base !== 'postgres' && base !== 'postgresql') {
        fail('expected a postgres: or postgresql: URL');
      }
      let url = raw.trim();
      if (driver !== undefined) {
        url = `postgresql:${url.slice(scheme!.length + 1)}`;
      }
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        fail('not a valid URL');
      }
      if (driver !== undefined && parsed.searchParams.has('ssl') && !parsed.searchParams.has('sslmode')) {
        const mode = parsed.searchParams.get('ssl')!;
        parsed.searchParams.delete('ssl');
        parsed.searchParams.set('sslmode', mode === 'true' ? 'require' : mode);
        url = parsed.toString();
      }
      return url;
    });
  },
  json<T>(env: string, def: T, opts: Common & { check: (value: unknown) => T }): Setting<T> {
    return make(env, def, opts, (raw) => {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        fail('not valid JSON');
      }
      return opts.check(value);
    });
  },
};

export function parseBool(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on', 't', 'y'].includes(value)) {
    return true;
  }
  if (['false', '0', 'no', 'off', 'f', 'n'].includes(value)) {
    return false;
  }
  return fail(`expected true or false, got ${JSON.stringify(raw)}`);
}

export type SettingsBlock = Readonly<Record<string, Setting<unknown>>>;
export type BlockValue<B extends SettingsBlock> = {
  readonly [K in keyof B]: B[K] extends Setting<infer T> ? T : never;
};

/** Reads one setting from the environment: its own name first, then its aliases, then the default. */
export function readSetting<T>(spec: Setting<T>, env: Env): T {
  for (const name of [spec.env, ...spec.aliases]) {
    const raw = env[name];
    if (raw === undefined) {
      continue;
    }
    try {
      return spec.parse(raw);
    } catch (err) {
      throw new ConfigError(name, err instanceof Error ? err.message : String(err));
    }
  }
  return spec.defaultValue;
}

export function parseBlock<B extends SettingsBlock>(block: B, env: Env): BlockValue<B> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(block)) {
    out[key] = readSetting(spec, env);
  }
  return out as BlockValue<B>;
}
