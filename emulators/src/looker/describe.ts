import { Dataset } from './dataset.ts';
import { defineExplores, exploreDimensions, exploreMeasures } from './explores.ts';

// The emulator's model as data (explore → field → Looker type), without starting a server: for tests that check
// another component's field lists against what the emulated Looker serves.

export interface ModelFieldDescription {
  name: string;
  type: string;
  category: 'dimension' | 'measure';
  hidden: boolean;
  primaryKey: boolean;
}

export function describeSystemActivityModel(): Map<string, Map<string, ModelFieldDescription>> {
  const explores = defineExplores(new Dataset(0, { historyRows: 0 }, Math.floor(Date.now() / 1000)));
  const out = new Map<string, Map<string, ModelFieldDescription>>();
  for (const explore of explores.values()) {
    const fields = new Map<string, ModelFieldDescription>();
    for (const { def } of exploreDimensions(explore)) {
      fields.set(def.name, {
        name: def.name,
        type: def.type,
        category: 'dimension',
        hidden: def.hidden,
        primaryKey: def.primaryKey,
      });
    }
    for (const { def } of exploreMeasures(explore)) {
      fields.set(def.name, {
        name: def.name,
        type: def.type,
        category: 'measure',
        hidden: false,
        primaryKey: false,
      });
    }
    out.set(explore.name, fields);
  }
  return out;
}
