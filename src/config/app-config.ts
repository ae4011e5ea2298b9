import { BlockValue, ConfigError, Env, parseBlock, parseBool, Setting, SettingsBlock } from './setting';
import { settingsSchema } from './settings.schema';

type Schema = typeof settingsSchema;
type ConfigShape = { readonly [K in keyof Schema]: BlockValue<Schema[K]> };

/**
 * The validated settings, parsed once at boot. Inject `AppConfig` anywhere; never read `process.env`
 * outside `src/config` (lint enforces it).
 */
export class AppConfig implements ConfigShape {
  readonly server!: ConfigShape['server'];
  readonly database!: ConfigShape['database'];
  readonly api!: ConfigShape['api'];
  readonly taskRunRecorder!: ConfigShape['taskRunRecorder'];
  readonly eventPersister!: ConfigShape['eventPersister'];
  readonly dbVacuum!: ConfigShape['dbVacuum'];
  readonly taskRunCounts!: ConfigShape['taskRunCounts'];
  readonly events!: ConfigShape['events'];
  readonly tasks!: ConfigShape['tasks'];

  private constructor(
    private readonly enabledFlags: ReadonlyMap<string, boolean>,
    private readonly env: Env,
    values: ConfigShape,
  ) {
    Object.assign(this, values);
  }

  /** Parses every block; throws `ConfigError` (one line naming the variable) on the first bad value. */
  static fromEnv(env: Env): AppConfig {
    const values: Record<string, unknown> = {};
    const flags = new Map<string, boolean>();
    for (const [name, block] of Object.entries(settingsSchema) as [string, SettingsBlock][]) {
      const parsed = parseBlock(block, env);
      values[name] = parsed;
      for (const [key, spec] of Object.entries(block)) {
        if (spec.env.endsWith('_ENABLED')) {
          flags.set(spec.env, (parsed as Record<string, unknown>)[key] as boolean);
        }
      }
    }
    return new AppConfig(flags, env, values as ConfigShape);
  }

  /**
   * Whether the service whose `…_ENABLED` variable is `envVar` is enabled. Declared settings were parsed at
   * boot; a service without a declared setting (e.g. one added by an extension module) reads its variable
   * here, enabled by default. A bad value throws `ConfigError`.
   */
  isServiceEnabled(envVar: string): boolean {
    const flag = this.enabledFlags.get(envVar);
    if (flag !== undefined) {
      return flag;
    }
    const raw = this.env[envVar];
    if (raw === undefined) {
      return true;
    }
    try {
      return parseBool(raw);
    } catch (err) {
      throw new ConfigError(envVar, err instanceof Error ? err.message : String(err));
    }
  }

  /** Every declared setting, for `.env.example` and docs. */
  static allSettings(): Setting<unknown>[] {
    return Object.values(settingsSchema).flatMap((block) => Object.values(block as SettingsBlock));
  }
}
