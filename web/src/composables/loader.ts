import { onBeforeUnmount, onMounted, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue';
import { auth } from '../api/auth';
import { ApiError } from '../api/client';

export interface Loader<T> {
  data: ShallowRef<T | undefined>;
  error: Ref<ApiError | undefined>;
  /** True until the first answer (success or error): the view shows its loading state only then. */
  loading: Ref<boolean>;
  reload(): Promise<void>;
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError
    ? err
    : new ApiError('server', 0, err instanceof Error ? err.message : String(err));
}

/**
 * Loads data for a view, and with `intervalMs` keeps it fresh: one request at a time (a slow answer delays the
 * next tick, never stacks), paused while the tab is hidden, stopped when the view goes away, reloaded after a
 * login. An error keeps the last data on screen beside the message; the next success clears it.
 */
export function useLoader<T>(load: () => Promise<T>, intervalMs?: number): Loader<T> {
  const data = shallowRef<T>();
  const error = ref<ApiError>();
  const loading = ref(true);
  let timer: number | undefined;
  let active = true;
  let inFlight: Promise<void> | undefined;
  let generation = 0;

  const run = async (): Promise<void> => {
    const mine = ++generation;
    try {
      const value = await load();
      if (mine !== generation || !active) {
        return;
      }
      data.value = value;
      error.value = undefined;
    } catch (err) {
      if (mine !== generation || !active) {
        return;
      }
      error.value = asApiError(err);
    } finally {
      if (mine === generation) {
        loading.value = false;
      }
    }
  };

  const reload = async (): Promise<void> => {
    inFlight = run();
    await inFlight;
  };

  const schedule = (): void => {
    if (!intervalMs || !active) {
      return;
    }
    timer = window.setTimeout(() => {
      void (async () => {
        if (document.visibilityState === 'visible' && !auth.required) {
          await (inFlight ?? Promise.resolve());
          await reload();
        }
        schedule();
      })();
    }, intervalMs);
  };

  onMounted(() => {
    void reload();
    schedule();
  });
  onBeforeUnmount(() => {
    active = false;
    window.clearTimeout(timer);
  });
  watch(
    () => auth.epoch,
    () => void reload(),
  );
  return { data, error, loading, reload };
}

/** Runs an action (a button's), keeping its error and a busy flag for the UI. */
export function useAction(): {
  busy: Ref<boolean>;
  error: Ref<ApiError | undefined>;
  run<T>(action: () => Promise<T>): Promise<T | undefined>;
} {
  const busy = ref(false);
  const error = ref<ApiError>();
  return {
    busy,
    error,
    async run<T>(action: () => Promise<T>): Promise<T | undefined> {
      busy.value = true;
      error.value = undefined;
      try {
        return await action();
      } catch (err) {
        error.value = asApiError(err);
        return undefined;
      } finally {
        busy.value = false;
      }
    },
  };
}
