/**
 * Finds what the running app serves, so cross-cutting tests (auth, fuzz) cover routes and sockets added by
 * any module, including ones merged later, without a hard-coded list.
 */
import { INestApplication } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { GATEWAY_OPTIONS } from '@nestjs/websockets/constants';
import request from 'supertest';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface DiscoveredParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
}

export interface DiscoveredRoute {
  method: HttpMethod;
  /** OpenAPI template, e.g. `/api/task_runs/{id}`. */
  path: string;
  parameters: DiscoveredParameter[];
  /** Whether the operation declares a request body (many DTO routes do not say so: fuzz bodies anyway). */
  hasBody: boolean;
}

const METHODS: HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of the served OpenAPI document (the same document `/api/openapi.json` serves). */
export async function discoverHttpRoutes(
  baseUrl: string,
  authorization?: string,
): Promise<DiscoveredRoute[]> {
  const req = request(baseUrl).get('/api/openapi.json');
  if (authorization) {
    void req.set('Authorization', authorization);
  }
  const res = await req.expect(200);
  // A path item maps each method to its operation; its `parameters` key holds the parameters they share.
  type Operation = { parameters?: DiscoveredParameter[]; requestBody?: unknown };
  const paths = (res.body as { paths: Record<string, Record<string, Operation | undefined>> }).paths;
  const routes: DiscoveredRoute[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) {
        continue;
      }
      const shared = (item as { parameters?: DiscoveredParameter[] }).parameters ?? [];
      const parameters = [...shared, ...(op.parameters ?? [])];
      // Path params the document did not declare (e.g. a handler without @Param metadata).
      for (const m of path.matchAll(/\{([^}]+)\}/g)) {
        if (!parameters.some((p) => p.in === 'path' && p.name === m[1])) {
          parameters.push({ name: m[1], in: 'path' });
        }
      }
      routes.push({ method, path, parameters, hasBody: !!op.requestBody });
    }
  }
  return routes.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

/** `encodeURIComponent`, tolerating lone surrogates (encoded as U+FFFD, as a browser would). */
export function encodeComponent(value: string): string {
  return encodeURIComponent(
    value.replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) => {
      const code = c.charCodeAt(0);
      const pairOk =
        code < 0xdc00 ? /[\uDC00-\uDFFF]/.test(all[i + 1] ?? '') : /[\uD800-\uDBFF]/.test(all[i - 1] ?? '');
      return pairOk ? c : '\uFFFD';
    }),
  );
}

/** Fills an OpenAPI path template with the given values (URI-encoded). */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeComponent(values[name] ?? 'x'));
}

/** The `path` of every `@WebSocketGateway` provider in the app (gateways ignore the global prefix). */
export function discoverWebsocketPaths(app: INestApplication): string[] {
  const discovery = app.get(DiscoveryService, { strict: false });
  const paths = new Set<string>();
  for (const wrapper of discovery.getProviders()) {
    if (!wrapper.metatype) {
      continue;
    }
    const options = Reflect.getMetadata(GATEWAY_OPTIONS, wrapper.metatype) as { path?: unknown } | undefined;
    if (options && typeof options.path === 'string') {
      paths.add(options.path);
    }
  }
  return [...paths].sort();
}
