import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { closingLine, summarizeJestReport } from '../../scripts/jest-summary';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

/** The shape of jest's `--json` report (trimmed to what the summary reads), as jest 30 writes it. */
const report = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    success: true,
    numPassedTests: 3,
    numFailedTests: 0,
    numPendingTests: 0,
    numTodoTests: 0,
    numTotalTests: 3,
    numFailedTestSuites: 0,
    numRuntimeErrorTestSuites: 0,
    testResults: [
      {
        name: '/repo/test/e2e/ok.e2e-spec.ts',
        status: 'passed',
        message: '',
        assertionResults: [{ status: 'passed' }, { status: 'passed' }, { status: 'passed' }],
      },
    ],
    ...over,
  });

describe(summarizeJestReport.name, () => {
  it('should count passed, failed and skipped tests', () => {
    const s = summarizeJestReport(
      report({
        success: false,
        numPassedTests: 5,
        numFailedTests: 2,
        numPendingTests: 1,
        numTodoTests: 1,
        numTotalTests: 9,
        testResults: [
          {
            name: '/repo/a.spec.ts',
            status: 'failed',
            message: '  ● fails\n\n    expect(received).toBe(expected)',
            assertionResults: [{ status: 'failed' }, { status: 'failed' }, { status: 'passed' }],
          },
        ],
      }),
    );
    expect(s).toEqual({ passed: 5, failed: 2, skipped: 2, problems: [] });
    expect(closingLine(s)).toBe('5 passed, 2 failed, 2 skipped');
  });

  it('should print no skipped part when nothing was skipped', () => {
    expect(closingLine(summarizeJestReport(report()))).toBe('3 passed, 0 failed');
  });

  it('should count a suite that failed to load (no tests, testExecError) as failed', () => {
    const s = summarizeJestReport(
      report({
        success: false,
        numFailedTestSuites: 1,
        numRuntimeErrorTestSuites: 1,
        testResults: [
          (JSON.parse(report()) as { testResults: unknown[] }).testResults[0],
          {
            name: '/repo/test/e2e/broken.e2e-spec.ts',
            status: 'failed',
            failureMessage: "  ● Test suite failed to run\n\n    Cannot find module './gone'",
            testExecError: { message: "Cannot find module './gone' from 'broken.e2e-spec.ts'" },
            assertionResults: [],
          },
        ],
      }),
      '/repo',
    );
    expect(closingLine(s)).toBe('3 passed, 1 failed');
    expect(s.problems).toEqual([
      "suite failed outside its tests: test/e2e/broken.e2e-spec.ts: Cannot find module './gone' from 'broken.e2e-spec.ts'",
    ]);
  });

  it('should count a suite whose afterAll threw (all its tests passed) as failed', () => {
    const s = summarizeJestReport(
      report({
        success: false,
        numFailedTestSuites: 1,
        testResults: [
          {
            name: '/repo/test/e2e/leaky.e2e-spec.ts',
            status: 'failed',
            message: '\n\n  ● Test suite failed to run\n\n    afterAll boom\n\n    > 1 | ...',
            assertionResults: [{ status: 'passed' }, { status: 'passed' }, { status: 'passed' }],
          },
        ],
      }),
      '/repo',
    );
    expect(closingLine(s)).toBe('3 passed, 1 failed');
    expect(s.problems).toEqual(['suite failed outside its tests: test/e2e/leaky.e2e-spec.ts: afterAll boom']);
  });

  it('should count one failure when jest wrote no usable report (global setup crashed)', () => {
    for (const text of [undefined, '', '  \n', '{"numPassedTests": 3', 'null']) {
      const s = summarizeJestReport(text);
      expect(closingLine(s)).toBe('0 passed, 1 failed');
      expect(s.problems).toEqual([expect.stringContaining('no usable jest report')]);
    }
  });

  it('should count one failure when jest calls the run failed with no failure counted, or nothing ran', () => {
    expect(closingLine(summarizeJestReport(report({ success: false })))).toBe('3 passed, 1 failed');
    const none = summarizeJestReport(report({ numPassedTests: 0, numTotalTests: 0, testResults: [] }));
    expect(closingLine(none)).toBe('0 passed, 1 failed');
    expect(none.problems).toEqual(['no tests ran']);
  });
});

describe('scripts/jest-summary.ts on real jest reports', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'jest-summary-'));
    writeFileSync(
      join(dir, 'mixed.spec.js'),
      "it('passes', () => {}); it('fails', () => { throw new Error('no'); }); it.skip('skipped', () => {}); it.todo('later');",
    );
    writeFileSync(
      join(dir, 'hook.spec.js'),
      "afterAll(() => { throw new Error('afterAll boom'); }); it('passes too', () => {});",
    );
    writeFileSync(join(dir, 'broken.spec.js'), "require('./missing-module'); it('never runs', () => {});");
    writeFileSync(
      join(dir, 'crash-setup.js'),
      "module.exports = async () => { throw new Error('setup boom'); };",
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const jest = async (config: Record<string, unknown>): Promise<string> => {
    const out = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(out, ''); // as `mktemp` leaves it
    await run(
      process.execPath,
      [
        join(ROOT, 'node_modules/jest/bin/jest.js'),
        '--ci',
        '--json',
        `--outputFile=${out}`,
        `--rootDir=${dir}`,
        `--config=${JSON.stringify({ testMatch: ['**/*.spec.js'], transform: {}, ...config })}`,
      ],
      { cwd: dir },
    ).catch(() => undefined); // jest exits 1 here: the tests are meant to fail
    return out;
  };
  const summary = async (reportPath: string) => {
    const res = await run(
      process.execPath,
      ['-r', '@swc-node/register', 'scripts/jest-summary.ts', reportPath],
      {
        cwd: ROOT,
      },
    ).catch((err: { code: number; stdout: string; stderr: string }) => err);
    return { code: 'code' in res ? res.code : 0, stdout: res.stdout, stderr: res.stderr };
  };

  it('should count the failing test, the suite that did not load and the throwing afterAll', async () => {
    const reportPath = await jest({});
    expect(summarizeJestReport(readFileSync(reportPath, 'utf8'), dir)).toEqual({
      passed: 2,
      failed: 3,
      skipped: 2,
      problems: [
        expect.stringMatching(/^suite failed outside its tests: (hook|broken)\.spec\.js: /),
        expect.stringMatching(/^suite failed outside its tests: (hook|broken)\.spec\.js: /),
      ],
    });
    const cli = await summary(reportPath);
    expect(cli.stdout).toBe('2 passed, 3 failed, 2 skipped\n');
    expect(cli.code).toBe(1);
  });

  it('should still print a line, counted as failed, when the global setup crashes', async () => {
    const reportPath = await jest({ globalSetup: join(dir, 'crash-setup.js') });
    const cli = await summary(reportPath);
    expect(cli.stdout).toBe('0 passed, 1 failed\n');
    expect(cli.stderr).toContain('no usable jest report');
    expect(cli.code).toBe(1);
  });
});
