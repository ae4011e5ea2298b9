import { reactive } from 'vue';

/**
 * The credentials the page sends: the value of PREFECT_SERVER_API_AUTH_STRING, asked once by the login form
 * (after the first 401) and kept for the tab's session (sessionStorage, never localStorage).
 */
const STORAGE_KEY = 'prefect-dashboard-auth';

export const auth = reactive({
  /** The auth string, or null when none was given (a server without auth needs none). */
  token: readStored(),
  /** Set by the client on a 401: the app shows the login form instead of the view. */
  required: false,
  /** Bumped on every login so views reload their data. */
  epoch: 0,
});

function readStored(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function login(token: string): void {
  auth.token = token;
  auth.required = false;
  auth.epoch++;
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // storage unavailable (private mode): the token lives until the page is closed
  }
}

export function logout(): void {
  auth.token = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

/** `Basic base64(utf8(auth string))`, as Prefect clients send it. */
export function authorizationHeader(token: string): string {
  const bytes = new TextEncoder().encode(token);
  let binary = '';
  for (const b of bytes) {
    binary += String.fromCharCode(b);
  }
  return `Basic ${btoa(binary)}`;
}
