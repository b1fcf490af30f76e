import type { ResolvedExport } from '../config/model.ts';
import { type ExportField, OWN_QUERY_COLUMN } from '../exports/types.ts';
import { hashMask, redactMask, type StringMask } from './masking.ts';
import { CONVERTERS, type Converter, DATE_TYPES, jsonText, lastValueMemo, memoized } from './row-values.ts';

// What every path of a row converter (rows.ts) reads, worked out once per converter from the export and the
// instance: each column's plan (its conversion, mask and `"column":` prefix), the constant head and tail of a
// line, the Looker fields to ask for, and the slots that say where each field a line or a pick reads is in a row.
// Each path's factory copies what its loops read into its own consts.

export interface RowContext {
  instanceId: string;
  extractedAt: Date;
  hashKey: () => string;
  /** The instance's system time zone (IANA). */
  timezone: string;
  /** The Looker user id the pipeline's queries run as, for exports that flag their own queries. */
  apiUserId?: number | undefined;
}

export interface ColumnPlan {
  field: ExportField;
  /** `"column":` ready to concatenate. */
  prefix: string;
  convert: Converter;
  mask: StringMask | undefined;
  dropped: boolean;
  isKey: boolean;
  /** The converted value is text that needs only quotes (dates and times). */
  quoteAsIs: boolean;
}

/** One export compiled for one instance and extract: read-only once built. */
export interface CompiledExport {
  /** One per export field, in column order. */
  plans: ColumnPlan[];
  /** A line's start, `{"looker_instance":…`, and its end, `,"_extracted_at":…}` (no newline). */
  head: string;
  tail: string;
  /** The instance's system zone, and whether it is UTC (then datetimes are copied as they are). */
  zone: string;
  utc: boolean;
  apiUserId: number | undefined;
  /** The field of the user who ran a query, for exports that flag the pipeline's own queries. */
  ownQueryField: string | undefined;
  /** The `own query` flag's text after a line's columns, true or false. */
  ownQueryTrue: string;
  ownQueryFalse: string;
  /** The Looker fields to ask for (dropped fields are never requested), in Looker's order. */
  queryFields: string[];
  /** BigQuery column names, in file order. */
  columns: string[];
  /** The fields whose values are handed back with each line. */
  pick: readonly string[];
  /** Every field a line or a pick reads (the query fields, then other picks), each with a slot: its index here. */
  wanted: string[];
  slotOf: Map<string, number>;
  /** Per plan, the slot of its field (-1: dropped); the own-query field's slot (-1: none); each pick's slot. */
  planSlots: number[];
  ownQuerySlot: number;
  pickSlots: number[];
  /** The byte paths' forms of the constants above (UTF-8); `tailBytes` ends with the line's newline. */
  headBytes: Buffer;
  tailBytes: Buffer;
  prefixBytes: Buffer[];
  ownQueryTrueBytes: Buffer;
  ownQueryFalseBytes: Buffer;
  /** Keys the byte scans can find are ASCII; a wanted name that is not never matches, and the text path decides. */
  wantedBytes: Buffer[];
  /** What a line adds to its row's bytes at most: head, tail, column names, null for a dropped value, true for
   * a yes/no, a masked value's hash. */
  mostAddedBytes: number;
  /** How many columns read one field at most (1 unless two columns share a field): a row's value bytes are
   * copied that many times at most. */
  fieldUses: number;
}

export function compileExport(
  resolved: ResolvedExport,
  context: RowContext,
  pick: readonly string[],
): CompiledExport {
  const { definition } = resolved;
  let hash: StringMask | undefined;
  const plans: ColumnPlan[] = definition.fields.map((field) => {
    const rule = resolved.masking[field.field];
    let mask: StringMask | undefined;
    if (rule === 'hash') {
      hash ??= memoized(hashMask(context.hashKey()));
      mask = hash;
    } else if (rule === 'redact') mask = redactMask;
    const isDate = DATE_TYPES.has(field.bigqueryType);
    const convert = CONVERTERS[field.bigqueryType];
    return {
      field,
      prefix: `,${JSON.stringify(field.column)}:`,
      convert: isDate && context.timezone !== 'UTC' ? lastValueMemo(convert) : convert,
      mask,
      dropped: rule === 'drop',
      isKey: field.field === definition.key,
      quoteAsIs: isDate,
    };
  });
  const ownQueryField = definition.ownQueryUserField;
  const queryFields = plans.filter((p) => !p.dropped).map((p) => p.field.field);
  if (ownQueryField && !queryFields.includes(ownQueryField)) queryFields.push(ownQueryField);
  const columns = [
    'looker_instance',
    ...plans.map((p) => p.field.column),
    ...(ownQueryField ? [OWN_QUERY_COLUMN] : []),
    '_extracted_at',
  ];
  // Looker returns the fields in the order asked, so each is first looked for at its own position.
  const wanted = [...queryFields, ...pick.filter((name) => !queryFields.includes(name))];
  const slotOf = new Map(wanted.map((name, slot) => [name, slot]));
  const head = `{"looker_instance":${JSON.stringify(context.instanceId)}`;
  const tail = `,"_extracted_at":${JSON.stringify(context.extractedAt.toISOString())}}`;
  const ownQueryTrue = `,"${OWN_QUERY_COLUMN}":true`;
  const ownQueryFalse = `,"${OWN_QUERY_COLUMN}":false`;
  const headBytes = bytesOf(head);
  const tailBytes = bytesOf(`${tail}\n`);
  const prefixBytes = plans.map((plan) => bytesOf(plan.prefix));
  const ownQueryFalseBytes = bytesOf(ownQueryFalse);
  return {
    plans,
    head,
    tail,
    zone: context.timezone,
    utc: context.timezone === 'UTC',
    apiUserId: context.apiUserId,
    ownQueryField,
    ownQueryTrue,
    ownQueryFalse,
    queryFields,
    columns,
    pick,
    wanted,
    slotOf,
    planSlots: plans.map((plan) => (plan.dropped ? -1 : slotOf.get(plan.field.field)!)),
    ownQuerySlot: ownQueryField ? slotOf.get(ownQueryField)! : -1,
    pickSlots: pick.map((name) => slotOf.get(name)!),
    headBytes,
    tailBytes,
    prefixBytes,
    ownQueryTrueBytes: bytesOf(ownQueryTrue),
    ownQueryFalseBytes,
    wantedBytes: wanted.map(bytesOf),
    mostAddedBytes:
      headBytes.length +
      tailBytes.length +
      ownQueryFalseBytes.length +
      plans.reduce((sum, plan, p) => sum + prefixBytes[p]!.length + 5 + (plan.mask ? 80 : 0), 0),
    fieldUses: Math.max(
      1,
      ...plans.map((plan) => plans.filter((other) => other.field.field === plan.field.field).length),
    ),
  };
}

export function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** The JSON text of a column's value (not null), converted and masked, or a BadRowError. */
export function valueText(plan: ColumnPlan, raw: unknown, zone: string): string {
  const value = plan.convert(raw, plan.field, zone);
  if (plan.mask) return jsonText(plan.mask(value as string));
  // A date or time the converter accepted is digits and separators: nothing to escape.
  return plan.quoteAsIs ? `"${value as string}"` : jsonText(value);
}

/** A row's scanned fields, as text or as bytes: keys compared with a wanted name in the form the scan holds. */
interface ScannedKeys<Name> {
  readonly count: number;
  keyIs(field: number, name: Name): boolean;
  key(field: number): string;
}

/**
 * Sets, per wanted field (its slot), where it is among a row's scanned fields (-1: absent). Looker returns the
 * fields in the order asked, so each field is first compared with the name wanted at its own position; a repeated
 * key leaves the last one, as JSON.parse does.
 */
export function placeFields<Name>(
  fields: ScannedKeys<Name>,
  wanted: readonly Name[],
  slotOf: ReadonlyMap<string, number>,
  slots: Int32Array,
): void {
  slots.fill(-1);
  for (let field = 0; field < fields.count; field++) {
    const slot =
      field < wanted.length && fields.keyIs(field, wanted[field]!)
        ? field
        : (slotOf.get(fields.key(field)) ?? -1);
    if (slot >= 0) slots[slot] = field;
  }
}
