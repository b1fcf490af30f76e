import type { Timeframe, Zone } from './time.ts';

// How a LookML view is described to the emulator: dimensions (with the Looker type the metadata API reports and
// a getter over the view's record) and a few measures. `ViewBuilder` spells out LookML's conventions once:
// a `dimension_group: created { type: time }` becomes `created_time`, `created_date`, … with types
// `date_time`, `date_date`, …, and labels are "View Label" + "Field Label".

export type RawValue = number | string | boolean | null;

/** What a getter may need besides the record: the query's zone, "now" (for relative values), and the instant
 * the explore is seen as of (its last refresh; +∞ when live), for values that change after a row appears. */
export interface ValueEnv {
  zone: Zone;
  nowSec: number;
  asOfSec: number;
}

/** Which filter grammar a field takes. */
export type FilterKind = 'time' | 'number' | 'string' | 'yesno' | 'tier';

export interface DimensionDef<R> {
  /** `view.field` */
  name: string;
  view: string;
  shortName: string;
  /** The Looker type reported by the metadata API: `number`, `string`, `yesno`, `tier`, `date_time`, `date_date`, … */
  type: string;
  kind: FilterKind;
  label: string;
  labelShort: string;
  viewLabel: string;
  description: string | null;
  hidden: boolean;
  primaryKey: boolean;
  /** For timeframes: the dimension group (`history.created`) and timeframe (`time`). */
  group: string | null;
  groupLabel: string | null;
  timeframe: Timeframe | null;
  tiers: readonly number[] | null;
  /** Time fields return epoch seconds; yesno returns a boolean; tiers return the number being tiered. */
  raw(record: R, env: ValueEnv): RawValue;
}

export interface MeasureDef<R> {
  name: string;
  view: string;
  shortName: string;
  type: 'count' | 'sum';
  label: string;
  labelShort: string;
  viewLabel: string;
  description: string | null;
  /** Measures aggregate over distinct rows of their view: this is the view's primary key. */
  distinctKey(record: R): RawValue;
  /** For `sum`: the value summed. */
  value(record: R, env: ValueEnv): number | null;
}

export interface ViewDef<R> {
  name: string;
  label: string;
  primaryKey: string;
  dimensions: DimensionDef<R>[];
  measures: MeasureDef<R>[];
}

interface FieldOptions {
  label?: string;
  description?: string;
  hidden?: boolean;
  primaryKey?: boolean;
}

const UPPER_WORDS = new Set(['id', 'api', 'ui', 'pdt', 'sql', 'url']);

/** LookML's default label for a name: words capitalised, with "ID", "API"… as Looker writes them. */
export function titleCase(name: string): string {
  return name
    .split('_')
    .filter((w) => w.length > 0)
    .map((w) => (UPPER_WORDS.has(w) ? w.toUpperCase() : w[0]?.toUpperCase() + w.slice(1)))
    .join(' ');
}

export const DEFAULT_TIMEFRAMES: readonly Timeframe[] = [
  'time',
  'date',
  'week',
  'month',
  'year',
  'hour',
  'minute',
  'hour_of_day',
];

export class ViewBuilder<R> {
  private readonly dimensions: DimensionDef<R>[] = [];
  private readonly measures: MeasureDef<R>[] = [];
  private primaryKey: string | undefined;
  readonly label: string;

  constructor(
    readonly name: string,
    label?: string,
  ) {
    this.label = label ?? titleCase(name);
  }

  private add(
    shortName: string,
    type: string,
    kind: FilterKind,
    raw: DimensionDef<R>['raw'],
    options: FieldOptions = {},
  ) {
    const labelShort = options.label ?? titleCase(shortName);
    const name = `${this.name}.${shortName}`;
    if (options.primaryKey) this.primaryKey = name;
    this.dimensions.push({
      name,
      view: this.name,
      shortName,
      type,
      kind,
      label: `${this.label} ${labelShort}`,
      labelShort,
      viewLabel: this.label,
      description: options.description ?? null,
      hidden: options.hidden ?? false,
      primaryKey: options.primaryKey ?? false,
      group: null,
      groupLabel: null,
      timeframe: null,
      tiers: null,
      raw,
    });
    return this;
  }

  number(shortName: string, raw: (record: R, env: ValueEnv) => number | null, options?: FieldOptions) {
    return this.add(shortName, 'number', 'number', raw, options);
  }

  string(shortName: string, raw: (record: R, env: ValueEnv) => string | null, options?: FieldOptions) {
    return this.add(shortName, 'string', 'string', raw, options);
  }

  yesno(shortName: string, raw: (record: R, env: ValueEnv) => boolean | null, options?: FieldOptions) {
    return this.add(shortName, 'yesno', 'yesno', raw, options);
  }

  /**
   * A `type: tier` dimension with `style: integer`: labels "0 to 6", …, "365 or Above", "Undefined" for null.
   * `raw` returns the number being tiered.
   */
  tier(
    shortName: string,
    tiers: readonly number[],
    raw: (record: R, env: ValueEnv) => number | null,
    options?: FieldOptions,
  ) {
    this.add(shortName, 'tier', 'tier', raw, options);
    const field = this.dimensions[this.dimensions.length - 1] as DimensionDef<R>;
    field.tiers = tiers;
    return this;
  }

  /** A `dimension_group` of `type: time`; `raw` returns epoch seconds (UTC) or null. */
  time(
    groupName: string,
    raw: (record: R, env: ValueEnv) => number | null,
    timeframes: readonly Timeframe[] = DEFAULT_TIMEFRAMES,
    options: Omit<FieldOptions, 'primaryKey'> = {},
  ) {
    const groupLabel = options.label ?? titleCase(groupName);
    for (const timeframe of timeframes) {
      const labelShort = `${groupLabel} ${titleCase(timeframe)}`;
      this.dimensions.push({
        name: `${this.name}.${groupName}_${timeframe}`,
        view: this.name,
        shortName: `${groupName}_${timeframe}`,
        type: `date_${timeframe}`,
        kind: timeframe === 'hour_of_day' ? 'number' : 'time',
        label: `${this.label} ${labelShort}`,
        labelShort,
        viewLabel: this.label,
        description: options.description ?? null,
        hidden: options.hidden ?? false,
        primaryKey: false,
        group: `${this.name}.${groupName}`,
        groupLabel: `${groupLabel} Date`,
        timeframe,
        tiers: null,
        raw,
      });
    }
    return this;
  }

  count(shortName = 'count', label = 'Count') {
    let key: ((record: R) => RawValue) | undefined;
    this.measures.push({
      name: `${this.name}.${shortName}`,
      view: this.name,
      shortName,
      type: 'count',
      label: `${this.label} ${label}`,
      labelShort: label,
      viewLabel: this.label,
      description: null,
      distinctKey: (record) => {
        key ??= this.primaryKeyGetter();
        return key(record);
      },
      value: () => null,
    });
    return this;
  }

  sum(shortName: string, value: (record: R, env: ValueEnv) => number | null) {
    let key: ((record: R) => RawValue) | undefined;
    this.measures.push({
      name: `${this.name}.${shortName}`,
      view: this.name,
      shortName,
      type: 'sum',
      label: `${this.label} ${titleCase(shortName)}`,
      labelShort: titleCase(shortName),
      viewLabel: this.label,
      description: null,
      distinctKey: (record) => {
        key ??= this.primaryKeyGetter();
        return key(record);
      },
      value,
    });
    return this;
  }

  private primaryKeyGetter(): (record: R) => RawValue {
    const pk = this.dimensions.find((d) => d.primaryKey);
    if (!pk) throw new Error(`view ${this.name} has no primary key`);
    const env = undefined as unknown as ValueEnv;
    return (record) => pk.raw(record, env);
  }

  build(): ViewDef<R> {
    if (!this.primaryKey) throw new Error(`view ${this.name} has no primary key`);
    return {
      name: this.name,
      label: this.label,
      primaryKey: this.primaryKey,
      dimensions: this.dimensions,
      measures: this.measures,
    };
  }
}
