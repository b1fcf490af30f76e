import {
  DuckDBDateValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { TableInfo } from './catalog.ts';
import { invalid } from './errors.ts';
import { tableLabel } from './names.ts';
import { quoteIdentifier } from './schema.ts';
import { daysFromCivil, MICROS_PER_DAY } from './time-values.ts';

// Partition decorators (`t$20240101`, `$2024010113`, `$202401`, `$2024`) on column-partitioned tables. A load into
// a decorator writes only that partition: WRITE_TRUNCATE replaces just its rows, and every loaded row must fall
// inside it (BigQuery fails the job otherwise). Ingestion-time partitioning has a hidden _PARTITIONTIME column that
// the emulator does not model, so decorators on such tables are refused with a clear message.

export interface PartitionTarget {
  decorator: string;
  columnName: string;
  columnIndex: number;
  /** Inclusive lower and exclusive upper bound: days for DATE columns, microseconds otherwise. */
  start: bigint;
  end: bigint;
  unit: 'days' | 'micros';
}

const DECORATOR_LENGTH = { YEAR: 4, MONTH: 6, DAY: 8, HOUR: 10 } as const;

export function resolvePartitionTarget(table: TableInfo, decorator: string): PartitionTarget {
  const label = `${tableLabel(table.ref)}$${decorator}`;
  const partitioning = table.timePartitioning;
  if (!partitioning)
    throw invalid(`Cannot read partition information from a table that is not partitioned: ${label}`);
  if (!partitioning.field) {
    throw invalid(
      `The emulator supports partition decorators only on column-partitioned tables; ${tableLabel(table.ref)} is ingestion-time partitioned`,
    );
  }
  const columnIndex = table.schema.fields.findIndex(
    (f) => f.name.toLowerCase() === partitioning.field?.toLowerCase(),
  );
  const column = table.schema.fields[columnIndex];
  if (!column)
    throw invalid(`Partitioning column ${partitioning.field} not found in ${tableLabel(table.ref)}`);
  const expectedLength = DECORATOR_LENGTH[partitioning.type];
  const match = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?$/.exec(decorator);
  if (!match || decorator.length !== expectedLength) {
    throw invalid(
      `Invalid partition decorator ${label}: expected ${expectedLength} digits for ${partitioning.type} partitioning`,
    );
  }
  const [year, month, day, hour] = [match[1], match[2] ?? '01', match[3] ?? '01', match[4] ?? '00'].map(
    Number,
  );
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23)
    throw invalid(`Invalid partition decorator ${label}`);
  const startDay = daysFromCivil(year!, month!, day!);
  let endDay = startDay + 1;
  if (partitioning.type === 'MONTH')
    endDay = month === 12 ? daysFromCivil(year! + 1, 1, 1) : daysFromCivil(year!, month! + 1, 1);
  if (partitioning.type === 'YEAR') endDay = daysFromCivil(year! + 1, 1, 1);
  if (column.type === 'DATE') {
    if (partitioning.type === 'HOUR')
      throw invalid(`HOUR partitioning is not available on DATE column ${column.name}`);
    return {
      decorator,
      columnName: column.name,
      columnIndex,
      start: BigInt(startDay),
      end: BigInt(endDay),
      unit: 'days',
    };
  }
  const hourMicros = 3_600_000_000n;
  const start = BigInt(startDay) * MICROS_PER_DAY + BigInt(hour!) * hourMicros;
  const end = partitioning.type === 'HOUR' ? start + hourMicros : BigInt(endDay) * MICROS_PER_DAY;
  return { decorator, columnName: column.name, columnIndex, start, end, unit: 'micros' };
}

/** Whether a validated row value of the partitioning column falls inside the decorator's partition. */
export function valueInPartition(value: DuckDBValue, target: PartitionTarget): boolean {
  let position: bigint | undefined;
  if (value instanceof DuckDBDateValue) position = BigInt(value.days);
  else if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue)
    position = value.micros;
  return position !== undefined && position >= target.start && position < target.end;
}

/** SQL predicate selecting the partition's rows. */
export function partitionPredicate(target: PartitionTarget): string {
  const column = quoteIdentifier(target.columnName);
  const position = target.unit === 'days' ? `(${column} - DATE '1970-01-01')` : `epoch_us(${column})`;
  return `(${position} >= ${target.start} AND ${position} < ${target.end})`;
}
