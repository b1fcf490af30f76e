// Civil dates and times as BigQuery reads and writes them. Instants are kept as bigint microseconds since the Unix
// epoch (BigQuery's precision), civil dates as days since the epoch. JS Date is avoided on purpose: it has only
// millisecond precision and its parser accepts far more than BigQuery does.

export const MICROS_PER_SECOND = 1_000_000n;
export const MICROS_PER_DAY = 86_400_000_000n;

/** Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validDate(year: number, month: number, day: number): boolean {
  return (
    year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)
  );
}

function pad(value: number | bigint, width: number): string {
  return String(value).padStart(width, '0');
}

/** `YYYY-MM-DD` */
export function formatDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** `HH:MM:SS[.ffffff]` for microseconds since midnight; the fraction only when non-zero, always 6 digits. */
export function formatTimeOfDay(microsOfDay: bigint): string {
  const seconds = microsOfDay / MICROS_PER_SECOND;
  const fraction = microsOfDay % MICROS_PER_SECOND;
  const text = `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}`;
  return fraction === 0n ? text : `${text}.${pad(fraction, 6)}`;
}

/** Civil date-time of `micros` since the epoch: `YYYY-MM-DD<sep>HH:MM:SS[.ffffff]`. */
export function formatCivilDateTime(micros: bigint, separator: 'T' | ' ' = 'T'): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  const microsOfDay = micros - days * MICROS_PER_DAY;
  return `${formatDate(Number(days))}${separator}${formatTimeOfDay(microsOfDay)}`;
}

/** Day number (since the epoch) of an instant or civil date-time in microseconds. */
export function dayOfMicros(micros: bigint): number {
  return Number(floorDiv(micros, MICROS_PER_DAY));
}

function fractionToMicros(fraction: string | undefined): bigint {
  return fraction ? BigInt(fraction.padEnd(6, '0')) : 0n;
}

const DATE_PART = String.raw`(\d{4})-(\d{1,2})-(\d{1,2})`;
const TIME_PART = String.raw`(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?`;
const ZONE_PART = String.raw`(?:\s*(Z|z|UTC)|\s*([+-])(\d{1,2})(?::?(\d{2}))?)`;
const TIMESTAMP_PATTERN = new RegExp(`^${DATE_PART}(?:[Tt ]${TIME_PART})?${ZONE_PART}?$`);
const DATETIME_PATTERN = new RegExp(`^${DATE_PART}(?:[Tt ]${TIME_PART})?$`);
const DATE_PATTERN = new RegExp(`^${DATE_PART}$`);
const TIME_PATTERN = new RegExp(`^${TIME_PART}$`);

function civilMicros(groups: (string | undefined)[]): bigint | undefined {
  const [year, month, day, hour, minute, second] = groups
    .slice(0, 6)
    .map((g) => (g === undefined ? 0 : Number(g)));
  if (!validDate(year!, month!, day!) || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  const days = BigInt(daysFromCivil(year!, month!, day!));
  const seconds = BigInt(hour! * 3600 + minute! * 60 + second!);
  return days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + fractionToMicros(groups[6]);
}

/**
 * TIMESTAMP text as BigQuery's JSON loader takes it: `YYYY-[M]M-[D]D[( |T)HH:MM:SS[.ffffff]][zone]` where zone is
 * `Z`, `UTC` or `±HH[:MM]`; no zone means UTC. Returns microseconds since the epoch.
 */
export function parseTimestampText(text: string): bigint | undefined {
  const match = TIMESTAMP_PATTERN.exec(text);
  if (!match) return undefined;
  const local = civilMicros(match.slice(1, 8));
  if (local === undefined) return undefined;
  const [sign, offsetHours, offsetMinutes] = [match[9], match[10], match[11]];
  if (!sign) return local;
  const hours = Number(offsetHours);
  const minutes = Number(offsetMinutes ?? '0');
  if (hours > 14 || minutes > 59) return undefined;
  const offset = BigInt(hours * 3600 + minutes * 60) * MICROS_PER_SECOND;
  return sign === '+' ? local - offset : local + offset;
}

/** DATETIME text: `YYYY-[M]M-[D]D[( |T)HH:MM:SS[.ffffff]]`, no zone. Returns civil microseconds since the epoch. */
export function parseDatetimeText(text: string): bigint | undefined {
  const match = DATETIME_PATTERN.exec(text);
  return match ? civilMicros(match.slice(1, 8)) : undefined;
}

/** DATE text `YYYY-[M]M-[D]D`. Returns days since the epoch. */
export function parseDateText(text: string): number | undefined {
  const match = DATE_PATTERN.exec(text);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1, 4).map(Number);
  return validDate(year!, month!, day!) ? daysFromCivil(year!, month!, day!) : undefined;
}

/** TIME text `HH:MM:SS[.ffffff]`. Returns microseconds since midnight. */
export function parseTimeText(text: string): bigint | undefined {
  const match = TIME_PATTERN.exec(text);
  if (!match) return undefined;
  const [hour, minute, second] = match.slice(1, 4).map(Number);
  if (hour! > 23 || minute! > 59 || second! > 59) return undefined;
  return BigInt(hour! * 3600 + minute! * 60 + second!) * MICROS_PER_SECOND + fractionToMicros(match[4]);
}

const DECIMAL_SECONDS = /^(-?)(\d+)(?:\.(\d{1,6})\d*)?$/;

/** A JSON number of seconds since the epoch (fraction kept to the microsecond) → microseconds. */
export function parseEpochSecondsText(text: string): bigint | undefined {
  const match = DECIMAL_SECONDS.exec(text);
  if (!match) return undefined;
  const magnitude = BigInt(match[2]!) * MICROS_PER_SECOND + fractionToMicros(match[3]);
  return match[1] === '-' ? -magnitude : magnitude;
}
