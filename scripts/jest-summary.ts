/**
 * The closing line of `.ci/run`: one line `N passed, N failed` (plus `, N skipped` when some were), read
 * from jest's `--json --outputFile` report. Jest's own `numFailedTests` misses failures outside a test,
 * so they are added to "failed":
 * - a suite that failed with no failing test in it (it did not load, or a hook such as `afterAll` threw)
 *   counts as one failure;
 * - a missing, empty or unreadable report (jest died before writing it, e.g. in its global setup), a run
 *   jest itself calls unsuccessful, or a run with no tests at all counts as one failure.
 * Usage: `node -r @swc-node/register scripts/jest-summary.ts <report.json>`; prints the line on stdout, the
 * reasons for extra failures on stderr, and exits 1 when anything failed.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface JestAssertion {
  status: string;
}

interface JestSuite {
  name: string;
  status: string;
  message?: string;
  failureMessage?: string | null;
  testExecError?: { message?: string } | null;
  assertionResults?: JestAssertion[];
}

interface JestReport {
  success?: boolean;
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  numTotalTests?: number;
  testResults?: JestSuite[];
}

export interface JestSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** Why failures were counted beyond jest's failed tests (one entry each). */
  problems: string[];
}

const firstLine = (text: string | null | undefined): string =>
  (text ?? '')
    .split('\n')
    .map((l) => l.replace(/^[\s●]+/, '').trim())
    .filter((l) => l && l !== 'Test suite failed to run')[0] ?? 'no message';

/** The counts from a jest JSON report's text (undefined or '' when jest wrote none). */
export function summarizeJestReport(text: string | undefined, cwd = process.cwd()): JestSummary {
  let report: JestReport;
  try {
    if (!text?.trim()) {
      throw new Error('no report, or an empty one');
    }
    report = JSON.parse(text) as JestReport;
    if (typeof report !== 'object' || report === null) {
      throw new Error('the report is not an object');
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      passed: 0,
      failed: 1,
      skipped: 0,
      problems: [
        `no usable jest report (${why}): jest stopped before running the tests, e.g. in global setup`,
      ],
    };
  }
  const summary: JestSummary = {
    passed: report.numPassedTests ?? 0,
    failed: report.numFailedTests ?? 0,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    problems: [],
  };
  for (const suite of report.testResults ?? []) {
    const failingTests = (suite.assertionResults ?? []).filter((a) => a.status === 'failed').length;
    const suiteFailed = suite.status === 'failed' || !!suite.testExecError;
    if (suiteFailed && failingTests === 0) {
      summary.failed += 1;
      const message = suite.testExecError?.message ?? suite.failureMessage ?? suite.message;
      summary.problems.push(
        `suite failed outside its tests: ${relative(cwd, suite.name)}: ${firstLine(message)}`,
      );
    }
  }
  if (summary.failed === 0 && report.success === false) {
    summary.failed = 1;
    summary.problems.push('jest reported the run as failed (see its output above)');
  }
  if (summary.failed === 0 && !report.numTotalTests) {
    summary.failed = 1;
    summary.problems.push('no tests ran');
  }
  return summary;
}

export function closingLine(s: JestSummary): string {
  return `${s.passed} passed, ${s.failed} failed` + (s.skipped ? `, ${s.skipped} skipped` : '');
}

if (require.main === module) {
  const path = process.argv[2];
  let text: string | undefined;
  try {
    text = path ? readFileSync(path, 'utf8') : undefined;
  } catch {
    text = undefined;
  }
  const summary = summarizeJestReport(text);
  for (const p of summary.problems) {
    process.stderr.write(`${p}\n`);
  }
  process.stdout.write(`${closingLine(summary)}\n`);
  process.exitCode = summary.failed > 0 ? 1 : 0;
}
