import { auth } from './auth';

export interface SocketHandlers {
  onMessage(message: unknown): void;
  onStatus(status: 'connecting' | 'open' | 'closed', reason?: string): void;
}

/**
 * A Prefect websocket from the page: the `prefect` subprotocol, then the `auth` message (the auth string as
 * token, or none), then `first` once `auth_success` arrives. Reconnects with backoff (1 s doubling to 30 s)
 * until `close()` is called; a close for bad credentials (1008) asks for the login form instead.
 */
export function openPrefectSocket(path: string, first: unknown, handlers: SocketHandlers): { close(): void } {
  let ws: WebSocket | undefined;
  let stopped = false;
  let delay = 1000;
  let retry: number | undefined;

  const connect = (): void => {
    handlers.onStatus('connecting');
    const url = new URL(`/api${path}`, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url, 'prefect');
    ws.onopen = () => ws?.send(JSON.stringify({ type: 'auth', token: auth.token }));
    ws.onmessage = (e: MessageEvent) => {
      let message: unknown;
      try {
        message = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if ((message as { type?: unknown }).type === 'auth_success') {
        delay = 1000;
        handlers.onStatus('open');
        ws?.send(JSON.stringify(first));
        return;
      }
      handlers.onMessage(message);
    };
    ws.onclose = (e: CloseEvent) => {
      if (stopped) {
        return;
      }
      if (e.code === 1008) {
        auth.required = true;
        handlers.onStatus('closed', 'Credentials refused');
        return;
      }
      handlers.onStatus('closed', e.reason || `closed (${e.code}); reconnecting`);
      retry = window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30_000);
    };
  };
  connect();
  return {
    close() {
      stopped = true;
      window.clearTimeout(retry);
      ws?.close(1000);
    },
  };
}
