import { sqlString } from './duckdb-engine.ts';
import { invalidQuery } from './errors.ts';
import { DUCKDB_SCALAR_TYPES } from './schema.ts';

// Query parameters (`queryParameters` + `parameterMode` in jobs.query / configuration.query) become typed SQL
// literals spliced in where the rewrite meets `@name` or `?`. Splicing keeps the rewrite independent of DuckDB's
// own parameter syntax; the values are quoted, so they cannot change the statement's shape.

interface ParameterType {
  type?: string;
  arrayType?: ParameterType;
  structTypes?: { name?: string; type?: ParameterType }[];
}

interface ParameterValue {
  value?: unknown;
  arrayValues?: ParameterValue[];
  structValues?: Record<string, ParameterValue>;
}

export interface QueryParameter {
  name?: string;
  parameterType?: ParameterType;
  parameterValue?: ParameterValue;
}

export interface BoundParameters {
  named: Map<string, string>;
  positional: string[];
}

export function bindParameters(parameters: unknown): BoundParameters {
  const bound: BoundParameters = { named: new Map(), positional: [] };
  if (!Array.isArray(parameters)) return bound;
  for (const parameter of parameters as QueryParameter[]) {
    const literal = parameterLiteral(parameter.parameterType ?? {}, parameter.parameterValue);
    if (parameter.name) bound.named.set(parameter.name.toLowerCase(), literal);
    else bound.positional.push(literal);
  }
  return bound;
}

function duckDbType(type: ParameterType): string {
  const name = (type.type ?? 'STRING').toUpperCase();
  if (name === 'ARRAY') return `${duckDbType(type.arrayType ?? {})}[]`;
  if (name === 'STRUCT') {
    const fields = (type.structTypes ?? []).map(
      (f, i) => `"${f.name ?? `_field_${i + 1}`}" ${duckDbType(f.type ?? {})}`,
    );
    return `STRUCT(${fields.join(', ')})`;
  }
  const mapped = DUCKDB_SCALAR_TYPES[name];
  if (!mapped) throw invalidQuery(`Unsupported query parameter type: ${name}`);
  return mapped;
}

function parameterLiteral(type: ParameterType, value: ParameterValue | undefined): string {
  const name = (type.type ?? 'STRING').toUpperCase();
  const target = duckDbType(type);
  if (name === 'ARRAY') {
    const items = value?.arrayValues;
    if (!items) return `CAST(NULL AS ${target})`;
    return `CAST([${items.map((item) => parameterLiteral(type.arrayType ?? {}, item)).join(', ')}] AS ${target})`;
  }
  if (name === 'STRUCT') {
    const entries = value?.structValues;
    if (!entries) return `CAST(NULL AS ${target})`;
    const fields = (type.structTypes ?? []).map(
      (f) => `${sqlString(f.name ?? '')}: ${parameterLiteral(f.type ?? {}, entries[f.name ?? ''])}`,
    );
    return `CAST({${fields.join(', ')}} AS ${target})`;
  }
  const raw = value?.value;
  if (raw === undefined || raw === null) return `CAST(NULL AS ${target})`;
  const text = String(raw);
  if (name === 'BOOL' || name === 'BOOLEAN') {
    if (!/^(true|false)$/i.test(text)) throw invalidQuery(`Invalid BOOL parameter value: ${text}`);
    return text.toUpperCase();
  }
  if (name === 'BYTES') return `from_base64(${sqlString(text)})`;
  if (name === 'INT64' || name === 'INTEGER') {
    if (!/^[+-]?\d+$/.test(text)) throw invalidQuery(`Invalid INT64 parameter value: ${text}`);
    return `CAST(${text} AS BIGINT)`;
  }
  return `CAST(${sqlString(text)} AS ${target})`;
}
