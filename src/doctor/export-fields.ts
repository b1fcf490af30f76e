import type { InstanceConfig, ResolvedExport } from '../config/model.ts';
import type { ExportDefinition } from '../exports/types.ts';
import type { LookerClient } from '../looker/client.ts';
import { ensureLogin, fetchExploreFields, type LookerFailure } from './looker-calls.ts';

// Does every field an instance's exports name exist in its explore? A typo in a custom export otherwise shows
// only when its first extract fails, after all its retries. One explore metadata request per distinct explore
// of the instance, all at once, after one login.

export interface MissingField {
  exportName: string;
  explore: string;
  field: string;
}

export interface MissingExplore {
  exportName: string;
  explore: string;
}

export interface ExportFieldsResult {
  instanceId: string;
  /** Set when nothing could be checked (login failed, Looker unreachable, no explore visible): why. */
  unavailable?: LookerFailure & { step: 'login' | 'explores' };
  missingFields: MissingField[];
  /** Explores that answered 404 while others of the same model answered: a wrong explore name. */
  missingExplores: MissingExplore[];
  /** Explores that could not be read for another reason (5xx, timeout): their exports were not checked. */
  unchecked: { explore: string; failure: LookerFailure }[];
  /** How many exports and field references were found present. */
  checkedExports: number;
  checkedFields: number;
}

/** Every Looker field a query of the export names: selected fields, key, cursor and static filters. */
export function fieldsNamedBy(definition: ExportDefinition): string[] {
  const names = [
    ...definition.fields.map((f) => f.field),
    definition.key,
    ...(definition.mode.kind === 'incremental' ? [definition.mode.cursor] : []),
    ...Object.keys(definition.filters),
  ];
  return [...new Set(names)];
}

function exploreKey(definition: ExportDefinition): string {
  return `${definition.model}/${definition.explore}`;
}

export async function checkExportFields(
  client: LookerClient,
  instance: InstanceConfig,
  exports: readonly ResolvedExport[] = instance.exports,
): Promise<ExportFieldsResult> {
  const result: ExportFieldsResult = {
    instanceId: instance.id,
    missingFields: [],
    missingExplores: [],
    unchecked: [],
    checkedExports: 0,
    checkedFields: 0,
  };
  const login = await ensureLogin(client);
  if (!login.ok) {
    result.unavailable = { ...login.failure, step: 'login' };
    return result;
  }
  const explores = new Map<string, ExportDefinition>();
  for (const { definition } of exports) explores.set(exploreKey(definition), definition);
  const answers = new Map(
    await Promise.all(
      [...explores].map(
        async ([key, definition]) =>
          [key, await fetchExploreFields(client, definition.model, definition.explore)] as const,
      ),
    ),
  );
  const answered = [...answers.values()].filter((a) => a.ok).length;
  if (answered === 0 && answers.size > 0) {
    const first = [...answers.values()][0]!;
    if (!first.ok) result.unavailable = { ...first.failure, step: 'explores' };
    return result;
  }
  for (const { definition } of exports) {
    const answer = answers.get(exploreKey(definition))!;
    if (!answer.ok) {
      if (answer.failure.kind === 'not-found') {
        result.missingExplores.push({ exportName: definition.name, explore: definition.explore });
      } else if (!result.unchecked.some((u) => u.explore === definition.explore)) {
        result.unchecked.push({ explore: definition.explore, failure: answer.failure });
      }
      continue;
    }
    result.checkedExports++;
    for (const field of fieldsNamedBy(definition)) {
      if (answer.value.has(field)) result.checkedFields++;
      else result.missingFields.push({ exportName: definition.name, explore: definition.explore, field });
    }
  }
  return result;
}

/** One sentence per problem, naming instance, export, field and explore. */
export function describeFieldProblems(result: ExportFieldsResult): string[] {
  return [
    ...result.missingExplores.map(
      (m) =>
        `instance "${result.instanceId}", export "${m.exportName}": explore "${m.explore}" does not exist in Looker`,
    ),
    ...result.missingFields.map(
      (m) =>
        `instance "${result.instanceId}", export "${m.exportName}": field "${m.field}" is not in explore "${m.explore}"`,
    ),
  ];
}
