import { auth, authorizationHeader } from './auth';

/** Every request has a deadline: a hung server shows an error instead of a spinner forever. */
const REQUEST_TIMEOUT_MS = 15_000;

export type ApiErrorKind = 'unauthorized' | 'unavailable' | 'not-found' | 'invalid' | 'network' | 'server';

/** A failed request, with what a person needs to know about it. */
export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function kindOf(status: number): ApiErrorKind {
  if (status === 401) {
    return 'unauthorized';
  }
  if (status === 503) {
    return 'unavailable';
  }
  if (status === 404) {
    return 'not-found';
  }
  if (status === 409 || status === 422 || status === 400 || status === 423) {
    return 'invalid';
  }
  return 'server';
}

/** A readable sentence from a Prefect-shaped error body (422 `exception_detail`, `detail`, …). */
function messageOf(status: number, body: unknown): string {
  if (status === 503) {
    return 'The API is up but cannot reach its database; data will come back when it does.';
  }
  if (body && typeof body === 'object') {
    const b = body as { detail?: unknown; exception_detail?: unknown; exception_message?: unknown };
    if (Array.isArray(b.exception_detail) && b.exception_detail.length) {
      return b.exception_detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? ''}`)
        .join('; ');
    }
    if (typeof b.detail === 'string') {
      return b.detail;
    }
    if (typeof b.exception_message === 'string') {
      return b.exception_message;
    }
  }
  return `HTTP ${status}`;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Statuses whose JSON body is data, not an error (e.g. 503 from /ready). */
  acceptStatus?: number[];
}

export interface ApiResponse<T> {
  status: number;
  data: T;
}

/** One HTTP call to `/api<path>` with the credentials, a deadline, and errors as `ApiError`. */
export async function request<T>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const url = new URL(`/api${path}`, window.location.origin);
  for (const [k, v] of Object.entries(options.query ?? {})) {
    if (v !== undefined) {
      url.searchParams.set(k, String(v));
    }
  }
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (auth.token !== null) {
    headers.Authorization = authorizationHeader(auth.token);
  }
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: controller.signal,
    });
  } catch (err) {
    const timedOut = controller.signal.aborted;
    throw new ApiError(
      'network',
      0,
      timedOut
        ? `No answer within ${REQUEST_TIMEOUT_MS / 1000} s`
        : `Cannot reach the server (${String(err)})`,
    );
  } finally {
    window.clearTimeout(timer);
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.ok || options.acceptStatus?.includes(res.status)) {
    return { status: res.status, data: body as T };
  }
  const error = new ApiError(kindOf(res.status), res.status, messageOf(res.status, body), body);
  if (error.kind === 'unauthorized') {
    auth.required = true;
  }
  throw error;
}

export const api = {
  get: async <T>(path: string, query?: RequestOptions['query']): Promise<T> =>
    (await request<T>('GET', path, { query })).data,
  post: async <T>(path: string, body: unknown = {}): Promise<T> =>
    (await request<T>('POST', path, { body })).data,
  patch: async <T>(path: string, body: unknown): Promise<T> =>
    (await request<T>('PATCH', path, { body })).data,
  delete: async <T>(path: string): Promise<T> => (await request<T>('DELETE', path)).data,
};
