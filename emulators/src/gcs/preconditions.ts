import { GcsError, invalidRequest } from './errors.ts';
import type { StoredObject } from './stored-object.ts';

// Generation preconditions (query parameters on uploads, gets and deletes). ifGenerationMatch=0 means "only if
// the object does not exist yet": the idiom an idempotent pipeline uses so that a retried upload can never
// overwrite a newer object, and the one that lets the Storage client retry uploads at all (see the tests).

export interface Preconditions {
  ifGenerationMatch?: string;
  ifGenerationNotMatch?: string;
  ifMetagenerationMatch?: string;
  ifMetagenerationNotMatch?: string;
}

const NAMES = [
  'ifGenerationMatch',
  'ifGenerationNotMatch',
  'ifMetagenerationMatch',
  'ifMetagenerationNotMatch',
];

export function preconditionsFrom(query: URLSearchParams): Preconditions {
  const preconditions: Record<string, string> = {};
  for (const name of NAMES) {
    const value = query.get(name);
    if (value === null) continue;
    if (!/^\d+$/.test(value)) throw invalidRequest(`Invalid value for ${name}: ${value}`);
    preconditions[name] = value;
  }
  return preconditions;
}

const METAGENERATION = '1'; // the emulator never patches metadata

export function checkPreconditions(existing: StoredObject | undefined, preconditions: Preconditions) {
  const generation = existing?.generation ?? '0';
  const metageneration = existing ? METAGENERATION : undefined;
  const { ifGenerationMatch, ifGenerationNotMatch, ifMetagenerationMatch, ifMetagenerationNotMatch } =
    preconditions;
  const holds =
    (ifGenerationMatch === undefined || ifGenerationMatch === generation) &&
    (ifGenerationNotMatch === undefined || ifGenerationNotMatch !== generation) &&
    (ifMetagenerationMatch === undefined || ifMetagenerationMatch === metageneration) &&
    (ifMetagenerationNotMatch === undefined || ifMetagenerationNotMatch !== metageneration);
  if (!holds) {
    throw new GcsError(
      412,
      'conditionNotMet',
      'At least one of the pre-conditions you specified did not hold.',
    );
  }
}
