import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const bin = (path: string): string => join(ROOT, 'node_modules', path);

type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string;
  properties?: Record<string, unknown>;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
};
interface Operation {
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  tags?: string[];
  security?: unknown[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, unknown>> };
  tags: { name: string }[];
}

/** Routes that take no body by design. */
const BODYLESS = new Set(['post /api/admin/dead_letters/{id}/replay']);
const PREFECT_TAGS = [
  'Root',
  'Task Runs',
  'Task Run States',
  'Task Workers',
  'UI',
  'Flows',
  'Flow Runs',
  'Concurrency Limits',
  'Concurrency Limits V2',
  'Events',
  'Admin',
];

/** A schema with something in it: a $ref to a component with properties, a typed value, or a union. */
function isDescriptive(schema: Schema | undefined, doc: Document, seen = new Set<string>()): boolean {
  if (!schema) {
    return false;
  }
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    if (seen.has(name)) {
      return true;
    }
    seen.add(name);
    return isDescriptive(doc.components.schemas[name], doc, seen);
  }
  if (schema.type === 'array') {
    return isDescriptive(schema.items, doc, seen);
  }
  if (schema.oneOf || schema.allOf || Array.isArray(schema.enum)) {
    return true;
  }
  if (schema.type === 'object') {
    return Object.keys(schema.properties ?? {}).length > 0;
  }
  return typeof schema.type === 'string' || Array.isArray(schema.enum);
}

function operations(doc: Document): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): [string, Operation] => [`${method} ${path}`, op]),
  );
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Document;
  let dir: string;

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await request(t.baseUrl).get('/api/openapi.json').expect(200)).body as Document;
    dir = mkdtempSync(join(tmpdir(), 'openapi-'));
  });

  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should validate against the OpenAPI schema, every $ref resolving', async () => {
    const file = join(dir, 'served.json');
    writeFileSync(file, JSON.stringify(doc));
    const { stdout } = await run(process.execPath, [
      bin('@seriousme/openapi-schema-validator/bin/validate-api-cli.js'),
      file,
    ]);
    expect(JSON.parse(stdout)).toEqual({ valid: true });
  });

  it('should let the validator refuse a document with a dangling $ref (the check can fail)', async () => {
    const broken = structuredClone(doc);
    broken.paths['/api/task_runs'].post.responses['201'].content!['application/json'].schema = {
      $ref: '#/components/schemas/NoSuchModel',
    };
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const result = await run(process.execPath, [
      bin('@seriousme/openapi-schema-validator/bin/validate-api-cli.js'),
      file,
    ]).catch((err: { stdout: string }) => err);
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: false });
  });

  it('should give every body-taking route a non-empty request schema', () => {
    const missing: string[] = [];
    for (const [key, op] of operations(doc)) {
      const takesBody = /^(post|patch|put) /.test(key) && !BODYLESS.has(key);
      const schema = op.requestBody?.content['application/json']?.schema;
      if (takesBody && !isDescriptive(schema, doc)) {
        missing.push(key);
      }
    }
    expect(missing).toEqual([]);
    expect(operations(doc).length).toBeGreaterThanOrEqual(45);
  });

  it('should give every route a success response with a schema (204 aside)', () => {
    const missing: string[] = [];
    for (const [key, op] of operations(doc)) {
      const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
      if (success.length === 0) {
        missing.push(`${key}: no 2xx`);
      }
      for (const [status, response] of success) {
        if (status === '204') {
          continue;
        }
        const content = response.content ?? {};
        const schema = content['application/json']?.schema ?? content['text/plain']?.schema;
        if (!isDescriptive(schema, doc) && !content['text/plain']) {
          missing.push(`${key} ${status}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("should use Prefect's model and tag names and describe basic auth", () => {
    for (const name of [
      'TaskRun',
      'TaskRunCreate',
      'State',
      'StateCreate',
      'OrchestrationResult',
      'TaskRunFilter',
    ]) {
      expect(doc.components.schemas[name]).toBeDefined();
    }
    for (const name of [
      'TaskRunCount',
      'CountByState',
      'HistoryResponse',
      'TaskRunPaginationResponse',
      'Event',
    ]) {
      expect(doc.components.schemas[name]).toBeDefined();
    }
    expect(doc.components.schemas.TaskRunCreate.required).toEqual(['task_key', 'dynamic_key']);
    const used = new Set(operations(doc).flatMap(([, op]) => op.tags ?? []));
    expect([...used].filter((tag) => !PREFECT_TAGS.includes(tag))).toEqual([]);
    expect(doc.components.securitySchemes.basic).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(doc.paths['/api/health'].get.security).toEqual([]);
    expect(doc.paths['/api/task_runs'].post.security).toBeUndefined(); // the document-wide requirement applies
  });

  it('should describe the websockets', () => {
    const description = (doc as unknown as { info: { description: string } }).info.description;
    for (const path of ['/api/task_runs/subscriptions/scheduled', '/api/events/in', '/api/events/out']) {
      expect(description).toContain(path);
    }
  });

  it('should write the same document with `npm run openapi:dump`, without a database', async () => {
    const file = join(dir, 'dumped.json');
    await run(process.execPath, ['-r', '@swc-node/register', 'scripts/openapi-dump.ts', file], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '' },
    });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);
  });

  it('should generate TypeScript types that a small client type-checks against (and a wrong one does not)', async () => {
    const spec = join(dir, 'api.json');
    writeFileSync(spec, JSON.stringify(doc));
    await run(process.execPath, [bin('openapi-typescript/bin/cli.js'), spec, '-o', join(dir, 'api.d.ts')]);
    const client = `
      import type { components, paths } from './api';
      type TaskRun = components['schemas']['TaskRun'];
      type Create = paths['/api/task_runs']['post']['requestBody']['content']['application/json'];
      type Result = paths['/api/task_runs/{id}/set_state']['post']['responses']['201']['content']['application/json'];
      const body: Create = { task_key: 'k', dynamic_key: '0', tags: ['a'], state: { type: 'SCHEDULED' } };
      export function describe(run: TaskRun, result: Result): string {
        const details = result.details;
        const wait = details.type === 'wait_details' ? details.delay_seconds : 0;
        return [run.id, run.state?.type, run.estimated_run_time.toFixed(1), result.status, wait, body.task_key].join();
      }
    `;
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'commonjs',
        skipLibCheck: true,
      },
      files: ['client.ts', 'api.d.ts'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    writeFileSync(join(dir, 'client.ts'), client);
    const tsc = [bin('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')];
    await expect(run(process.execPath, tsc)).resolves.toBeDefined();

    writeFileSync(
      join(dir, 'client.ts'),
      client.replace("state: { type: 'SCHEDULED' }", "state: { type: 'SLEEPING' }"),
    );
    const failed = await run(process.execPath, tsc).catch((err: { stdout: string }) => err);
    expect(String(failed.stdout)).toContain('SLEEPING');
  });
});
