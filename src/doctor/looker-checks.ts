import type { InstanceConfig } from '../config/model.ts';
import { BUILT_IN_EXPORTS } from '../exports/registry.ts';
import type { LookerClient } from '../looker/client.ts';
import { checkExportFields, type ExportFieldsResult } from './export-fields.ts';
import {
  ensureLogin,
  fetchExploreFields,
  fetchLookerTimezone,
  type LookerFailure,
  queryRows,
} from './looker-calls.ts';
import { type Check, fail, info, pass } from './report.ts';

// The checks of one Looker instance, in the order an operator fixes them: credentials, System Activity access,
// the exports' fields, the row cap, the time zone. A check that cannot run because an earlier one failed says
// so instead of failing again for the same reason.

const SYSTEM_ACTIVITY = 'system__activity';
/** Looker's default row limit for API queries; the config's `rowCap` when set. */
export const DEFAULT_ROW_CAP = 5000;

/** `rowCap` and `timezone` are read defensively: the config may not (yet) define them. */
export function configuredRowCap(instance: InstanceConfig): number {
  const value = (instance as InstanceConfig & { rowCap?: unknown }).rowCap;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : DEFAULT_ROW_CAP;
}

export function configuredTimezone(instance: InstanceConfig): string {
  const value = (instance as InstanceConfig & { timezone?: unknown }).timezone;
  return typeof value === 'string' && value !== '' ? value : 'UTC';
}

function loginCheck(instance: InstanceConfig, failure: LookerFailure): Check {
  const id = instance.id;
  switch (failure.kind) {
    case 'not-found':
      return fail(
        'looker',
        'login',
        `client id/secret rejected by ${instance.baseUrl} (Looker answers 404 to a bad pair)`,
        `check the API3 credentials in ${instance.clientId} and ${instance.clientSecret} (Admin > Users > the API user > Edit Keys)`,
        id,
      );
    case 'secret-missing':
      return fail('looker', 'login', failure.message, 'set that variable (or load it with --env-file)', id);
    case 'unreachable':
      return fail(
        'looker',
        'login',
        `no answer from ${instance.baseUrl}: ${failure.message}`,
        'check baseUrl (https://<host>[:port], without /api/4.0) and that this host can reach it',
        id,
      );
    case 'other':
      return fail(
        'looker',
        'login',
        `login to ${instance.baseUrl} failed: ${failure.message}`,
        'check baseUrl and the API credentials',
        id,
      );
  }
}

function systemActivityCheck(instance: InstanceConfig, failure: LookerFailure | undefined): Check {
  const name = 'system activity';
  if (!failure) return pass('looker', name, `explore ${SYSTEM_ACTIVITY}/history is visible`, instance.id);
  if (failure.kind === 'not-found') {
    return fail(
      'looker',
      name,
      `explore ${SYSTEM_ACTIVITY}/history answered 404: the API user cannot see System Activity`,
      'give the API user the see_system_activity permission (a role with it, or Admin)',
      instance.id,
    );
  }
  return fail(
    'looker',
    name,
    `explore ${SYSTEM_ACTIVITY}/history could not be read: ${failure.message}`,
    'check that Looker is healthy, then run lsa doctor again',
    instance.id,
  );
}

function isBuiltIn(exportName: string, explore: string): boolean {
  return BUILT_IN_EXPORTS.some((b) => b.name === exportName && b.explore === explore);
}

function fieldChecks(instance: InstanceConfig, result: ExportFieldsResult): Check[] {
  const id = instance.id;
  if (result.unavailable) {
    return [
      fail(
        'looker',
        'export fields',
        `not checked: ${result.unavailable.message}`,
        'see the checks above',
        id,
      ),
    ];
  }
  const checks: Check[] = [];
  const byExport = new Map<string, string[]>();
  for (const m of result.missingFields)
    byExport.set(m.exportName, [...(byExport.get(m.exportName) ?? []), m.field]);
  for (const m of result.missingExplores) {
    checks.push(
      fail(
        'looker',
        `export ${m.exportName}`,
        `explore "${m.explore}" does not exist in ${SYSTEM_ACTIVITY}`,
        `correct exports.${m.exportName}.explore in the config`,
        id,
      ),
    );
  }
  for (const [exportName, fields] of byExport) {
    const explore = instance.exports.find((e) => e.definition.name === exportName)!.definition.explore;
    const list = fields.map((f) => `"${f}"`).join(', ');
    checks.push(
      fail(
        'looker',
        `export ${exportName}`,
        `field${fields.length === 1 ? '' : 's'} ${list} not in explore "${explore}"`,
        isBuiltIn(exportName, explore)
          ? `this Looker version lacks ${fields.length === 1 ? 'it' : 'them'}: leave ${exportName} out of instances[${id}].exports`
          : `correct the field name${fields.length === 1 ? '' : 's'} under exports.${exportName} (fields, key, cursor, filters)`,
        id,
      ),
    );
  }
  for (const { explore, failure } of result.unchecked) {
    checks.push(
      fail(
        'looker',
        `explore ${explore}`,
        `could not be read: ${failure.message}`,
        'run lsa doctor again',
        id,
      ),
    );
  }
  if (checks.length === 0) {
    checks.push(
      pass(
        'looker',
        'export fields',
        `${result.checkedExports} export(s), ${result.checkedFields} field reference(s): all present`,
        id,
      ),
    );
  }
  return checks;
}

/**
 * The real row cap, probed cheaply: count the History rows, then ask for `rowCap + 1` ids. Looker returns
 * min(its cap, rows, rowCap + 1) rows without any error, so fewer than min(count, rowCap) means its cap is
 * lower than the config's, and a full page would be mistaken for a short (complete) one.
 */
async function rowCapCheck(client: LookerClient, instance: InstanceConfig): Promise<Check> {
  const id = instance.id;
  const rowCap = configuredRowCap(instance);
  const name = 'row cap';
  const counted = await queryRows(client, {
    model: SYSTEM_ACTIVITY,
    view: 'history',
    fields: ['history.count'],
    limit: '1',
  });
  if (!counted.ok)
    return fail(
      'looker',
      name,
      `History count query failed: ${counted.failure.message}`,
      'run lsa doctor again',
      id,
    );
  const count = Number(counted.value[0]?.['history.count'] ?? 0);
  const probed = await queryRows(client, {
    model: SYSTEM_ACTIVITY,
    view: 'history',
    fields: ['history.id'],
    limit: String(rowCap + 1),
  });
  if (!probed.ok)
    return fail(
      'looker',
      name,
      `History id query failed: ${probed.failure.message}`,
      'run lsa doctor again',
      id,
    );
  const returned = probed.value.length;
  const expected = Math.min(count, rowCap);
  if (returned < expected) {
    return fail(
      'looker',
      name,
      `asked for ${rowCap + 1} of ${count} History rows, Looker returned ${returned}: its cap is ${returned}, below rowCap ${rowCap}`,
      `set rowCap: ${returned} on instance ${id} (and keep pageSize ≤ ${returned})`,
      id,
    );
  }
  if (count <= rowCap) {
    return info(
      'looker',
      name,
      `rowCap ${rowCap}: not fully probed (History has only ${count} rows, all returned)`,
      id,
    );
  }
  return pass(
    'looker',
    name,
    returned > rowCap
      ? `Looker returns more than rowCap ${rowCap} rows per query (a higher rowCap would need fewer queries)`
      : `Looker caps queries at ${rowCap} rows, as configured`,
    id,
  );
}

async function timezoneCheck(client: LookerClient, instance: InstanceConfig): Promise<Check> {
  const configured = configuredTimezone(instance);
  const looker = await fetchLookerTimezone(client);
  if (!looker.ok || !looker.value) {
    const why = looker.ok ? 'no zone in the answer' : looker.failure.message;
    return info(
      'looker',
      'time zone',
      `${configured} (configured; Looker's zone not readable: ${why})`,
      instance.id,
    );
  }
  if (looker.value === configured) {
    return pass('looker', 'time zone', `${configured}, as Looker reports`, instance.id);
  }
  return fail(
    'looker',
    'time zone',
    `configured ${configured}, Looker reports ${looker.value}`,
    `set timezone: ${looker.value} on instance ${instance.id}`,
    instance.id,
  );
}

export async function checkLookerInstance(client: LookerClient, instance: InstanceConfig): Promise<Check[]> {
  const login = await ensureLogin(client);
  if (!login.ok) {
    return [
      loginCheck(instance, login.failure),
      info('looker', 'other checks', 'skipped until login works', instance.id),
    ];
  }
  const checks: Check[] = [pass('looker', 'login', `logged in to ${instance.baseUrl}`, instance.id)];
  const history = await fetchExploreFields(client, SYSTEM_ACTIVITY, 'history');
  checks.push(systemActivityCheck(instance, history.ok ? undefined : history.failure));
  if (!history.ok) {
    checks.push(info('looker', 'other checks', 'skipped until System Activity is visible', instance.id));
    return checks;
  }
  const [fields, rowCap, timezone] = await Promise.all([
    checkExportFields(client, instance),
    rowCapCheck(client, instance),
    timezoneCheck(client, instance),
  ]);
  checks.push(...fieldChecks(instance, fields), rowCap, timezone);
  return checks;
}
