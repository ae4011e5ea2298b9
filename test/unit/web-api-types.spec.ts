import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

describe('web/src/api/schema.d.ts', () => {
  it('should be what openapi-typescript generates from the server OpenAPI document today', () => {
    // Fails (exit 1) when a schema changed without `npm run web:api-types`: the dashboard's types follow the API.
    const out = execFileSync(
      process.execPath,
      ['-r', '@swc-node/register', resolve(ROOT, 'scripts', 'web-api-types.ts'), '--check'],
      { cwd: ROOT, encoding: 'utf8', timeout: 170_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toContain('is up to date');
  }, 180_000);
});
