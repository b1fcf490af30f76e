// What `lsa doctor` finds: one line per check, each failure with the fix an operator applies. Data first (the
// JSON form is this shape as is), then its table rendering.

export type CheckStatus = 'pass' | 'fail' | 'info';

export type CheckArea = 'looker' | 'gcs' | 'bigquery';

export interface Check {
  area: CheckArea;
  /** The Looker instance the check is about (Looker checks only). */
  instance?: string;
  /** What was checked, e.g. `login`, `export slow_queries`, `row cap`. */
  check: string;
  status: CheckStatus;
  /** What was found: the evidence for a pass, the failing step and the answer for a failure. */
  detail: string;
  /** For a failure: what to change, in the config or in the service's permissions. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  summary: { passed: number; failed: number; info: number };
  checks: Check[];
}

export function pass(area: CheckArea, check: string, detail: string, instance?: string): Check {
  return { area, ...(instance ? { instance } : {}), check, status: 'pass', detail };
}

export function fail(area: CheckArea, check: string, detail: string, fix: string, instance?: string): Check {
  return { area, ...(instance ? { instance } : {}), check, status: 'fail', detail, fix };
}

export function info(area: CheckArea, check: string, detail: string, instance?: string): Check {
  return { area, ...(instance ? { instance } : {}), check, status: 'info', detail };
}

export function buildReport(checks: Check[]): DoctorReport {
  const count = (status: CheckStatus) => checks.filter((c) => c.status === status).length;
  const summary = { passed: count('pass'), failed: count('fail'), info: count('info') };
  return { ok: summary.failed === 0, summary, checks };
}

const ICONS: Record<CheckStatus, string> = { pass: '✅', fail: '❌', info: '🔹' };

function target(check: Check): string {
  return check.instance ? `${check.area} ${check.instance}` : check.area;
}

/** A table for people: icon, target, check, detail; a failure's fix on the line below its detail. */
export function renderReport(report: DoctorReport): string {
  const targets = report.checks.map(target);
  const targetWidth = Math.max(6, ...targets.map((t) => t.length)) + 2;
  const checkWidth = Math.max(5, ...report.checks.map((c) => c.check.length)) + 2;
  // Every icon is two columns wide in a terminal, so the header's blank icon cell is two spaces.
  const lines = [`   ${'target'.padEnd(targetWidth)}${'check'.padEnd(checkWidth)}result`];
  report.checks.forEach((check, i) => {
    lines.push(
      `${ICONS[check.status]} ${targets[i]!.padEnd(targetWidth)}${check.check.padEnd(checkWidth)}${check.detail}`,
    );
    if (check.fix) lines.push(`${' '.repeat(3 + targetWidth + checkWidth)}fix: ${check.fix}`);
  });
  const { passed, failed, info: notes } = report.summary;
  lines.push(
    '',
    failed === 0
      ? `all ${passed} checks passed${notes ? ` (${notes} note${notes === 1 ? '' : 's'})` : ''}`
      : `${failed} of ${passed + failed} checks failed: apply each fix above, then run lsa doctor again`,
  );
  return lines.join('\n');
}
