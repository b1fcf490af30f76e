import { MODEL_NAME, tierLabel } from './engine.ts';
import { type ExploreDef, exploreDimensions, exploreMeasures } from './explores.ts';
import { type DimensionDef, type MeasureDef, titleCase } from './fields.ts';

// `GET /lookml_models/system__activity/explores/{explore}`: a LookmlModelExplore as Looker returns it to an API
// user without `see_lookml` (so `sql` is null). Keys follow @looker/sdk's ILookmlModelExploreField.

const CONNECTION = 'looker__internal__analytics__replica';

function timeIntervalOf(timeframe: string | null) {
  switch (timeframe) {
    case 'time':
      return { name: 'second', count: 1 };
    case 'minute':
      return { name: 'minute', count: 1 };
    case 'hour':
      return { name: 'hour', count: 1 };
    case 'date':
      return { name: 'day', count: 1 };
    case 'week':
      return { name: 'week', count: 1 };
    case 'month':
      return { name: 'month', count: 1 };
    case 'year':
      return { name: 'year', count: 1 };
    default:
      return null;
  }
}

function commonField(name: string, view: string) {
  return {
    can_filter: true,
    default_filter_value: null,
    drill_fields: [],
    error: null,
    fill_style: null,
    fiscal_month_offset: 0,
    has_allowed_values: false,
    is_filter: false,
    is_fiscal: false,
    label_from_parameter: null,
    lookml_link: null,
    links: [],
    map_layer: null,
    strict_value_format: false,
    parameter: false,
    permanent: null,
    project_name: 'system__activity',
    requires_refresh_on_sort: false,
    scope: view,
    sortable: true,
    source_file: `${view}.view.lkml`,
    source_file_path: `system__activity/${view}.view.lkml`,
    sql: null,
    sql_case: null,
    filters: null,
    suggest_dimension: name,
    suggest_explore: view,
    suggestions: null,
    synonyms: [],
    tags: [],
    user_attribute_filter_types: ['advanced_filter_string', 'string'],
    value_format: null,
    value_format_name: null,
    dynamic: false,
    week_start_day: 'monday',
    times_used: 0,
    original_view: view,
  };
}

export function dimensionMetadata(def: DimensionDef<unknown>) {
  const isNumeric = def.type === 'number' || def.timeframe === 'hour_of_day' || def.timeframe === 'year';
  return {
    ...commonField(def.name, def.view),
    align: isNumeric ? 'right' : 'left',
    category: 'dimension',
    description: def.description,
    dimension_group: def.group,
    enumerations: def.tiers ? [...tierEnumerations(def.tiers)] : null,
    field_group_label: def.groupLabel,
    field_group_variant: def.timeframe ? titleCase(def.timeframe) : def.labelShort,
    hidden: def.hidden,
    is_numeric: isNumeric,
    is_timeframe: def.timeframe !== null,
    can_time_filter: def.kind === 'time',
    time_interval: timeIntervalOf(def.timeframe),
    label: def.label,
    label_short: def.labelShort,
    measure: false,
    name: def.name,
    primary_key: def.primaryKey,
    suggestable: def.kind === 'string' || def.kind === 'tier',
    type: def.type,
    view: def.view,
    view_label: def.viewLabel,
    datatype: def.kind === 'time' ? 'timestamp' : null,
    convert_tz: def.kind === 'time' ? true : null,
  };
}

function* tierEnumerations(tiers: readonly number[]) {
  const first = tiers[0] ?? 0;
  yield { label: tierLabel(first - 1, tiers), value: tierLabel(first - 1, tiers) };
  for (const tier of tiers) yield { label: tierLabel(tier, tiers), value: tierLabel(tier, tiers) };
  yield { label: 'Undefined', value: 'Undefined' };
}

export function measureMetadata(def: MeasureDef<unknown>) {
  return {
    ...commonField(def.name, def.view),
    align: 'right',
    category: 'measure',
    description: def.description,
    dimension_group: null,
    enumerations: null,
    field_group_label: null,
    field_group_variant: def.labelShort,
    hidden: false,
    is_numeric: true,
    is_timeframe: false,
    can_time_filter: false,
    time_interval: null,
    label: def.label,
    label_short: def.labelShort,
    measure: true,
    name: def.name,
    primary_key: false,
    suggestable: false,
    type: def.type,
    view: def.view,
    view_label: def.viewLabel,
    datatype: null,
    convert_tz: null,
  };
}

export function exploreMetadata(explore: ExploreDef) {
  return {
    id: `${MODEL_NAME}::${explore.name}`,
    name: explore.name,
    description: explore.description,
    label: explore.label,
    title: explore.label,
    scopes: explore.joins.map((j) => j.view.name),
    can_total: true,
    can_develop: false,
    can_see_lookml: false,
    lookml_link: null,
    can_save: true,
    can_explain: false,
    can_pivot_in_db: true,
    can_subtotal: true,
    has_timezone_support: true,
    supports_cost_estimate: false,
    connection_name: CONNECTION,
    dialect_name: 'mysql',
    null_sort_treatment: 'low',
    files: [`${MODEL_NAME}.model.lkml`],
    source_file: `${MODEL_NAME}.model.lkml`,
    project_name: MODEL_NAME,
    model_name: MODEL_NAME,
    view_name: explore.baseView,
    hidden: false,
    sql_table_name: null,
    access_filter_fields: [],
    access_filters: [],
    aliases: [],
    always_filter: [],
    conditionally_filter: [],
    index_fields: [],
    sets: [],
    tags: [],
    errors: [],
    fields: {
      dimensions: exploreDimensions(explore).map((ref) => dimensionMetadata(ref.def)),
      measures: exploreMeasures(explore).map((ref) => measureMetadata(ref.def)),
      filters: [],
      parameters: [],
    },
    joins: explore.joins.slice(1).map((j) => ({
      name: j.view.name,
      dependent_fields: [],
      fields: null,
      foreign_key: null,
      from: null,
      outer_only: false,
      relationship: j.relationship,
      required_joins: [],
      sql_foreign_key: null,
      sql_on: null,
      sql_table_name: null,
      type: 'left_outer',
      view_label: null,
    })),
    group_label: 'System Activity',
    always_join: [],
  };
}

/**
 * Looker's `fields` request parameter: a comma list of keys, each optionally with a nested selection in
 * parentheses (`fields(dimensions(name,type))`). Applies to objects and to every element of arrays.
 */
export function selectFields(value: unknown, selection: string | undefined | null): unknown {
  if (!selection) return value;
  const tree = parseSelection(selection);
  return tree ? apply(value, tree) : value;
}

type Selection = Map<string, Selection | null>;

function parseSelection(text: string): Selection | null {
  let pos = 0;
  const parseList = (): Selection => {
    const out: Selection = new Map();
    while (pos < text.length) {
      let name = '';
      while (pos < text.length && !',()'.includes(text[pos] as string)) name += text[pos++];
      let nested: Selection | null = null;
      if (text[pos] === '(') {
        pos++;
        nested = parseList();
        if (text[pos] === ')') pos++;
      }
      if (name.trim()) out.set(name.trim(), nested);
      if (text[pos] === ',') pos++;
      else break;
    }
    return out;
  };
  const tree = parseList();
  return tree.size > 0 ? tree : null;
}

function apply(value: unknown, selection: Selection): unknown {
  if (Array.isArray(value)) return value.map((item) => apply(item, selection));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, nested] of selection) {
    if (!(key in value)) continue;
    const child = (value as Record<string, unknown>)[key];
    out[key] = nested ? apply(child, nested) : child;
  }
  return out;
}
