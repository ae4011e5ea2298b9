import { AsyncLocalStorage } from 'node:async_hooks';

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Run `fn` (the rest of a request's handling) with `requestId` visible to every log line it causes. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The id of the HTTP request being handled, if any (log lines carry it as `request_id`). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
