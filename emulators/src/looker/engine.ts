import {
  type ExploreDef,
  type ExploreFieldRef,
  type ExploreMeasureRef,
  exploreDimensions,
  exploreMeasures,
  type OrderedKey,
  type RowSource,
} from './explores.ts';
import type { DimensionDef, MeasureDef, RawValue, ValueEnv } from './fields.ts';
import {
  type CompiledFilter,
  compileFilter,
  compileNumberFilter,
  FilterSyntaxError,
  type Interval,
} from './filters.ts';
import { formatTimeframe, MONOTONE_TIMEFRAMES, type Zone } from './time.ts';
import type { WriteQueryLike } from './types.ts';

// Runs a WriteQuery over an explore's generated rows, as Looker's `SELECT dims, measures … GROUP BY dims`:
// rows are the distinct combinations of the selected dimensions. It never materialises more than it must:
// filters on ids and creation times become index ranges, an order that matches the index (ascending or
// descending ids/times, UTC) streams straight through with the limit applied on the way, and only other orders
// or measures collect rows (bounded to the limit when rows are unique).

export const MODEL_NAME = 'system__activity';

export type JsonValue = string | number | null;

export interface Column {
  name: string;
  label: string;
  measure: boolean;
  /** Looker type (`number`, `date_time`, …; measures: `count`, `sum`). */
  type: string;
  dimension: DimensionDef<unknown> | null;
  measureDef: MeasureDef<unknown> | null;
}

export interface PreparedQuery {
  explore: ExploreDef;
  columns: Column[];
  /** Row values in column order; `null` items are pauses (the engine scanned a while): a chance to yield. */
  rows(): Generator<JsonValue[] | null, void, undefined>;
}

export type PrepareResult = { ok: true; query: PreparedQuery } | { ok: false; error: string };

export interface RunOptions {
  /** Maximum rows (Infinity for none). */
  limit: number;
  zone: Zone;
  nowSec: number;
  /** The explore's last refresh (rows and their state as of then); +∞ when live. */
  asOfSec: number;
}

class QueryError extends Error {}

interface SortKey {
  column: number;
  desc: boolean;
}

type Range = [number, number];

const PAUSE_EVERY = 2048;

export class QueryEngine {
  private readonly lookups = new Map<string, Map<string, ExploreFieldRef | ExploreMeasureRef>>();

  constructor(readonly explores: Map<string, ExploreDef>) {}

  private fieldsOf(explore: ExploreDef) {
    let lookup = this.lookups.get(explore.name);
    if (!lookup) {
      lookup = new Map();
      for (const ref of exploreDimensions(explore)) lookup.set(ref.def.name, ref);
      for (const ref of exploreMeasures(explore)) lookup.set(ref.def.name, ref);
      this.lookups.set(explore.name, lookup);
    }
    return lookup;
  }

  prepare(body: WriteQueryLike, options: RunOptions): PrepareResult {
    try {
      return { ok: true, query: this.compile(body, options) };
    } catch (error) {
      if (error instanceof QueryError || error instanceof FilterSyntaxError)
        return { ok: false, error: error.message };
      throw error;
    }
  }

  private compile(body: WriteQueryLike, options: RunOptions): PreparedQuery {
    if (body.model !== MODEL_NAME)
      throw new QueryError(`Model "${String(body.model)}" not found or not accessible.`);
    const explore = typeof body.view === 'string' ? this.explores.get(body.view) : undefined;
    if (!explore) throw new QueryError(`Explore "${String(body.view)}" not found in model "${MODEL_NAME}".`);
    if (Array.isArray(body.pivots) && body.pivots.length > 0)
      throw new QueryError('The Looker emulator does not support pivots.');
    if (typeof body.filter_expression === 'string' && body.filter_expression.trim() !== '') {
      throw new QueryError('The Looker emulator does not support filter_expression; use filters.');
    }
    const lookup = this.fieldsOf(explore);
    const env: ValueEnv = { zone: options.zone, nowSec: options.nowSec, asOfSec: options.asOfSec };
    const names = [...new Set((body.fields ?? []).filter((f): f is string => typeof f === 'string'))];
    if (names.length === 0) throw new QueryError('Must query at least one dimension or measure.');
    const dims: { column: number; ref: ExploreFieldRef }[] = [];
    const measures: { column: number; ref: ExploreMeasureRef }[] = [];
    const columns: Column[] = names.map((name, column) => {
      const ref = lookup.get(name);
      if (!ref) throw new QueryError(`Unknown field "${name}" in explore "${explore.name}".`);
      if (isMeasure(ref)) {
        measures.push({ column, ref });
        return {
          name,
          label: ref.def.label,
          measure: true,
          type: ref.def.type,
          dimension: null,
          measureDef: ref.def,
        };
      }
      dims.push({ column, ref });
      return {
        name,
        label: ref.def.label,
        measure: false,
        type: ref.def.type,
        dimension: ref.def,
        measureDef: null,
      };
    });

    // Filters: dimension filters select rows (WHERE), measure filters select groups (HAVING).
    const rowFilters: { value: (row: unknown) => RawValue; filter: CompiledFilter; ref: ExploreFieldRef }[] =
      [];
    const groupFilters: { measure: string; filter: CompiledFilter }[] = [];
    for (const [name, expression] of Object.entries(body.filters ?? {})) {
      if (typeof expression !== 'string' || expression.trim() === '') continue; // Looker ignores empty filters
      const ref = lookup.get(name);
      if (!ref) throw new QueryError(`Unknown field "${name}" in filters of explore "${explore.name}".`);
      if (isMeasure(ref)) {
        groupFilters.push({ measure: name, filter: compileNumberFilter(expression) });
        continue;
      }
      const filter = compileFilter(ref.def.kind, expression, env);
      rowFilters.push({ value: filterValueGetter(ref, env), filter, ref });
    }
    for (const { measure } of groupFilters) {
      if (!names.includes(measure))
        throw new QueryError(`Measure filter on "${measure}" requires the measure in fields.`);
    }

    const sortKeys = parseSorts(body.sorts, columns, lookup, explore.name);
    const project = dims.map(({ ref }) => valueGetter(ref, env));
    const rowPredicate = (row: unknown) => {
      for (const f of rowFilters) if (!f.filter.test(f.value(row))) return false;
      return true;
    };
    const source = explore.rows(env);
    const ranges = indexRanges(source, rowFilters);
    const limit = options.limit;

    if (measures.length > 0) {
      return {
        explore,
        columns,
        rows: () =>
          aggregateRows({
            source,
            ranges,
            rowPredicate,
            dims,
            measures,
            project,
            columns,
            groupFilters,
            sortKeys,
            limit,
            env,
          }),
      };
    }

    const dimensionOnly = (row: unknown): JsonValue[] => {
      const values: JsonValue[] = new Array(project.length);
      for (let i = 0; i < project.length; i++) values[i] = (project[i] as (row: unknown) => JsonValue)(row);
      return values;
    };
    const unique = explore.grains.some((grain) => grain.every((f) => names.includes(f)));
    const order =
      sortKeys === 'unsorted'
        ? 'forward'
        : naturalOrder(sortKeys, columns, source.keys, options.zone, ranges);
    if (order) {
      return {
        explore,
        columns,
        rows: () =>
          scanRows(source, ranges, order === 'reverse', rowPredicate, dimensionOnly, !unique, limit),
      };
    }
    return {
      explore,
      columns,
      rows: () =>
        sortedRows(
          source,
          ranges,
          rowPredicate,
          dimensionOnly,
          !unique,
          comparator(sortKeys as SortKey[]),
          limit,
        ),
    };
  }
}

function isMeasure(ref: ExploreFieldRef | ExploreMeasureRef): ref is ExploreMeasureRef {
  return 'distinctKey' in ref.def;
}

// ------------------------------------------------------------------------------------------ values

/** A dimension's JSON value for a row, formatted as Looker's `json` format renders it. */
function valueGetter(ref: ExploreFieldRef, env: ValueEnv): (row: unknown) => JsonValue {
  const { def, join } = ref;
  const raw = (row: unknown): RawValue => {
    const record = join.get(row, env);
    return record === null || record === undefined ? null : def.raw(record, env);
  };
  switch (def.kind) {
    case 'time':
    case 'number':
      if (def.timeframe) {
        const timeframe = def.timeframe;
        return (row) => {
          const value = raw(row);
          return typeof value === 'number' ? formatTimeframe(value, timeframe, env.zone) : null;
        };
      }
      return (row) => {
        const value = raw(row);
        return typeof value === 'number' && Number.isFinite(value) ? value : null;
      };
    // A yesno is `CASE WHEN … THEN 'Yes' ELSE 'No'`: an outer join with no match gives "No", never null.
    case 'yesno':
      return (row) => (raw(row) === true ? 'Yes' : 'No');
    case 'tier': {
      const tiers = def.tiers ?? [];
      return (row) => tierLabel(raw(row), tiers);
    }
    case 'string':
      return (row) => {
        const value = raw(row);
        return value === null ? null : String(value);
      };
  }
}

/** The value a filter sees: raw seconds for times (so filters are zone-correct), formatted values otherwise. */
function filterValueGetter(ref: ExploreFieldRef, env: ValueEnv): (row: unknown) => RawValue {
  const { def, join } = ref;
  if (def.kind === 'time') {
    return (row) => {
      const record = join.get(row, env);
      return record === null || record === undefined ? null : def.raw(record, env);
    };
  }
  const format = valueGetter(ref, env);
  if (def.kind === 'yesno') return (row) => format(row) === 'Yes';
  return format;
}

/** Looker's `style: integer` tier labels. */
export function tierLabel(value: RawValue, tiers: readonly number[]): string {
  if (typeof value !== 'number') return 'Undefined';
  const first = tiers[0];
  if (first === undefined || value < first) return `Below ${first ?? 0}`;
  for (let i = 0; i < tiers.length - 1; i++) {
    const next = tiers[i + 1] as number;
    if (value < next) return `${tiers[i]} to ${next - 1}`;
  }
  return `${tiers[tiers.length - 1]} or Above`;
}

// ------------------------------------------------------------------------------------------ sorting

function parseSorts(
  sorts: WriteQueryLike['sorts'],
  columns: Column[],
  lookup: Map<string, unknown>,
  explore: string,
): SortKey[] | 'unsorted' {
  const keys: SortKey[] = [];
  for (const sort of sorts ?? []) {
    if (typeof sort !== 'string') continue;
    if (sort.trim() === '__UNSORTED__') return 'unsorted';
    const match = /^\s*(\S+)(?:\s+(asc|desc))?(?:\s+\d+)?\s*$/i.exec(sort);
    if (!match) throw new QueryError(`Invalid sort "${sort}".`);
    const name = match[1] as string;
    if (!lookup.has(name)) throw new QueryError(`Unknown field "${name}" in sorts of explore "${explore}".`);
    const column = columns.findIndex((c) => c.name === name);
    // Looker only sorts by selected fields; a sort on another field is dropped.
    if (column >= 0) keys.push({ column, desc: match[2]?.toLowerCase() === 'desc' });
  }
  if (keys.length > 0) return keys;
  // Looker's default order: the first time dimension descending, else the first measure descending, else the
  // first dimension ascending.
  const time = columns.findIndex((c) => c.dimension?.kind === 'time');
  if (time >= 0) return [{ column: time, desc: true }];
  const measure = columns.findIndex((c) => c.measure);
  if (measure >= 0) return [{ column: measure, desc: true }];
  return [{ column: 0, desc: false }];
}

/** 'forward'/'reverse' when index order already is the requested order, else null (rows must be sorted). */
function naturalOrder(
  sortKeys: SortKey[],
  columns: Column[],
  keys: OrderedKey[],
  zone: Zone,
  ranges: Range[],
): 'forward' | 'reverse' | null {
  let direction: 'forward' | 'reverse' | null = null;
  // Local wall-clock time goes backwards when clocks fall back, so a time key follows the index in a local
  // zone only if no such change happens between the first and last rows scanned.
  const first = ranges[0]?.[0];
  const last = ranges[ranges.length - 1]?.[1];
  const followsIndex = (key: OrderedKey): boolean => {
    if (zone.isUtc || first === undefined || last === undefined) return true;
    const from = key.valueAt?.(first) ?? null;
    const to = key.valueAt?.(last - 1) ?? null;
    return from !== null && to !== null && zone.offsetNeverDecreases(from, to);
  };
  for (const sort of sortKeys) {
    const column = columns[sort.column] as Column;
    const def = column.dimension;
    if (!def) return null;
    const key = keys.find(
      (k) =>
        k.field === def.name ||
        (k.group !== undefined &&
          k.group === def.group &&
          def.timeframe !== null &&
          MONOTONE_TIMEFRAMES.has(def.timeframe) &&
          followsIndex(k)),
    );
    if (!key) return null;
    const wanted = sort.desc ? 'reverse' : 'forward';
    if (direction && direction !== wanted) return null;
    direction = wanted;
    if (key.strict) break;
  }
  return direction;
}

function compareValues(a: JsonValue, b: JsonValue): number {
  // Nulls sort first ascending (and so last descending), as in MySQL.
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparator(sortKeys: SortKey[]): (a: JsonValue[], b: JsonValue[]) => number {
  return (a, b) => {
    for (const key of sortKeys) {
      const c = compareValues(a[key.column] as JsonValue, b[key.column] as JsonValue);
      if (c !== 0) return key.desc ? -c : c;
    }
    return 0;
  };
}

// ------------------------------------------------------------------------------------------ index ranges

function integerBounds(interval: Interval): [number, number] {
  const lo =
    interval.lo === Number.NEGATIVE_INFINITY
      ? interval.lo
      : interval.loIncl
        ? Math.ceil(interval.lo)
        : Math.floor(interval.lo) + 1;
  const hi =
    interval.hi === Number.POSITIVE_INFINITY
      ? interval.hi
      : interval.hiIncl
        ? Math.floor(interval.hi) + 1
        : Math.ceil(interval.hi);
  return [lo, hi];
}

function mergeRanges(ranges: Range[]): Range[] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const merged: Range[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

function intersectRanges(a: Range[], b: Range[]): Range[] {
  const out: Range[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Range;
    const y = b[j] as Range;
    const lo = Math.max(x[0], y[0]);
    const hi = Math.min(x[1], y[1]);
    if (hi > lo) out.push([lo, hi]);
    if (x[1] < y[1]) i++;
    else j++;
  }
  return out;
}

/** Index ranges that can hold matching rows: filters on ordered keys narrow the scan by binary search. */
function indexRanges(
  source: RowSource,
  filters: { filter: CompiledFilter; ref: ExploreFieldRef }[],
): Range[] {
  let ranges: Range[] = [[0, source.size]];
  for (const { filter, ref } of filters) {
    if (!filter.intervals) continue;
    const def = ref.def;
    const key = source.keys.find(
      (k) => k.field === def.name || (k.group !== undefined && def.kind === 'time' && k.group === def.group),
    );
    if (!key) continue;
    const narrowed = filter.intervals.map((interval): Range => {
      const [lo, hi] = integerBounds(interval);
      return [key.lowerBound(lo), key.lowerBound(hi)];
    });
    ranges = intersectRanges(ranges, mergeRanges(narrowed));
  }
  return ranges;
}

// ------------------------------------------------------------------------------------------ execution

function* scanIndices(ranges: Range[], reverse: boolean): Generator<number> {
  if (!reverse) {
    for (const [lo, hi] of ranges) for (let i = lo; i < hi; i++) yield i;
  } else {
    for (let r = ranges.length - 1; r >= 0; r--) {
      const [lo, hi] = ranges[r] as Range;
      for (let i = hi - 1; i >= lo; i--) yield i;
    }
  }
}

function* scanRows(
  source: RowSource,
  ranges: Range[],
  reverse: boolean,
  predicate: (row: unknown) => boolean,
  project: (row: unknown) => JsonValue[],
  dedupe: boolean,
  limit: number,
): Generator<JsonValue[] | null, void, undefined> {
  if (limit <= 0) return;
  const seen = dedupe ? new Set<string>() : null;
  let emitted = 0;
  let scanned = 0;
  for (const index of scanIndices(ranges, reverse)) {
    if (++scanned % PAUSE_EVERY === 0) yield null;
    const row = source.at(index);
    if (row === null || row === undefined || !predicate(row)) continue;
    const values = project(row);
    if (seen) {
      const key = JSON.stringify(values);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    yield values;
    if (++emitted >= limit) return;
  }
}

function* sortedRows(
  source: RowSource,
  ranges: Range[],
  predicate: (row: unknown) => boolean,
  project: (row: unknown) => JsonValue[],
  dedupe: boolean,
  compare: (a: JsonValue[], b: JsonValue[]) => number,
  limit: number,
): Generator<JsonValue[] | null, void, undefined> {
  if (limit <= 0) return;
  const seen = dedupe ? new Set<string>() : null;
  let buffer: JsonValue[][] = [];
  // Keep only the best `limit` rows so far: memory stays bounded by the limit, not the table.
  const bound = Number.isFinite(limit) ? 2 * limit + 1024 : Number.POSITIVE_INFINITY;
  let scanned = 0;
  for (const index of scanIndices(ranges, false)) {
    if (++scanned % PAUSE_EVERY === 0) yield null;
    const row = source.at(index);
    if (row === null || row === undefined || !predicate(row)) continue;
    const values = project(row);
    if (seen) {
      const key = JSON.stringify(values);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    buffer.push(values);
    if (buffer.length >= bound) buffer = buffer.sort(compare).slice(0, limit);
  }
  buffer.sort(compare);
  const count = Math.min(limit, buffer.length);
  for (let i = 0; i < count; i++) yield buffer[i] as JsonValue[];
}

interface AggregateInput {
  source: RowSource;
  ranges: Range[];
  rowPredicate: (row: unknown) => boolean;
  dims: { column: number; ref: ExploreFieldRef }[];
  measures: { column: number; ref: ExploreMeasureRef }[];
  project: ((row: unknown) => JsonValue)[];
  columns: Column[];
  groupFilters: { measure: string; filter: CompiledFilter }[];
  sortKeys: SortKey[] | 'unsorted';
  limit: number;
  env: ValueEnv;
}

/** GROUP BY the selected dimensions; measures aggregate over distinct rows of their view (Looker's symmetric aggregates). */
function* aggregateRows(input: AggregateInput): Generator<JsonValue[] | null, void, undefined> {
  const { source, ranges, rowPredicate, dims, measures, project, columns, env } = input;
  const groups = new Map<string, { values: JsonValue[]; states: Map<RawValue, number>[] }>();
  let scanned = 0;
  for (const index of scanIndices(ranges, false)) {
    if (++scanned % PAUSE_EVERY === 0) yield null;
    const row = source.at(index);
    if (row === null || row === undefined || !rowPredicate(row)) continue;
    const values: JsonValue[] = new Array(columns.length).fill(null);
    dims.forEach((d, i) => {
      values[d.column] = (project[i] as (row: unknown) => JsonValue)(row);
    });
    const key = JSON.stringify(values);
    let group = groups.get(key);
    if (!group) {
      group = { values, states: measures.map(() => new Map()) };
      groups.set(key, group);
    }
    measures.forEach((m, i) => {
      const record = m.ref.join.get(row, env);
      if (record === null || record === undefined) return;
      const distinct = m.ref.def.distinctKey(record);
      if (distinct === null) return;
      const value = m.ref.def.type === 'sum' ? (m.ref.def.value(record, env) ?? 0) : 1;
      (group.states[i] as Map<RawValue, number>).set(distinct, value);
    });
  }
  let rows = [...groups.values()].map(({ values, states }) => {
    measures.forEach((m, i) => {
      const state = states[i] as Map<RawValue, number>;
      let total = 0;
      for (const v of state.values()) total += v;
      values[m.column] = m.ref.def.type === 'count' ? state.size : Math.round(total * 1e6) / 1e6;
    });
    return values;
  });
  for (const { measure, filter } of input.groupFilters) {
    const column = columns.findIndex((c) => c.name === measure);
    rows = rows.filter((r) => filter.test(r[column] ?? null));
  }
  if (input.sortKeys !== 'unsorted') rows.sort(comparator(input.sortKeys));
  const count = Math.min(input.limit, rows.length);
  for (let i = 0; i < count; i++) yield rows[i] as JsonValue[];
}
