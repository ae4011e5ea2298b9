import { BlockValue, ConfigError, Env, parseBlock, Setting, SettingsBlock } from './setting';
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
  readonly events!: ConfigShape['events'];
  readonly tasks!: ConfigShape['tasks'];

  private constructor(
    private readonly enabledFlags: ReadonlyMap<string, boolean>,
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
        if (spec.env.endsWith('_ENABLED'))
          flags.set(spec.env, (parsed as Record<string, unknown>)[key] as boolean);
      }
    }
    return new AppConfig(flags, values as ConfigShape);
  }

  /** Whether the service whose `…_ENABLED` variable is `envVar` is enabled. */
  isServiceEnabled(envVar: string): boolean {
    const flag = this.enabledFlags.get(envVar);
    if (flag === undefined) {
      throw new ConfigError(envVar, 'no such setting is declared in src/config/settings.schema.ts');
    }
    return flag;
  }

  /** Every declared setting, for `.env.example` and docs. */
  static allSettings(): Setting<unknown>[] {
    return Object.values(settingsSchema).flatMap((block) => Object.values(block as SettingsBlock));
  }
}
