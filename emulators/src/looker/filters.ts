import type { FilterKind, RawValue } from './fields.ts';
import { civilFromDays, DAY, daysFromCivil, type Zone } from './time.ts';

// A hand-written subset of Looker's filter expressions (https://cloud.google.com/looker/docs/filter-expressions),
// compiled to a predicate on a field's raw value. Where a filter is a plain union of ranges it also returns them,
// so the engine can turn a filter on an id or creation time into index ranges instead of scanning.
//
// Semantics copied from Looker: comma-separated values are ORed, negated values (`-FOO`, `not 5`) are ANDed;
// `A to B` on dates is from A inclusive until B exclusive; `after A` is `>= A`, `before A` is `< A`; date
// literals are wall-clock times in the query time zone; `_` and `%` are wildcards in strings, `^` escapes.

export class FilterSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterSyntaxError';
  }
}

export interface Interval {
  lo: number;
  loIncl: boolean;
  hi: number;
  hiIncl: boolean;
}

export interface CompiledFilter {
  test(value: RawValue): boolean;
  /** The accepted values as a union of intervals, or null when the filter is not just that (NULL, negations). */
  intervals: Interval[] | null;
}

export interface FilterEnv {
  zone: Zone;
  nowSec: number;
}

export function compileFilter(kind: FilterKind, expression: string, env: FilterEnv): CompiledFilter {
  switch (kind) {
    case 'time':
      return compileDateFilter(expression, env);
    case 'number':
      return compileNumberFilter(expression);
    case 'yesno':
      return compileYesNoFilter(expression);
    case 'string':
    case 'tier':
      return compileStringFilter(expression);
  }
}

function inInterval(value: number, i: Interval): boolean {
  return (i.loIncl ? value >= i.lo : value > i.lo) && (i.hiIncl ? value <= i.hi : value < i.hi);
}

/** Positive clauses ORed, negative clauses ANDed: Looker's rule for `FOO,-BAR` style lists. */
function combine(positives: ((v: RawValue) => boolean)[], negatives: ((v: RawValue) => boolean)[]) {
  return (value: RawValue) => {
    if (positives.length > 0 && !positives.some((p) => p(value))) return false;
    return negatives.every((n) => n(value));
  };
}

/** Splits on commas that are not inside brackets (number ranges) and not escaped with `^` (strings). */
function splitList(expression: string, escapes: boolean): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i] as string;
    if (escapes && ch === '^' && i + 1 < expression.length) {
      current += ch + expression[i + 1];
      i++;
      continue;
    }
    if (!escapes && (ch === '[' || ch === '(')) depth++;
    if (!escapes && (ch === ']' || ch === ')')) depth--;
    if (ch === ',' && depth <= 0) {
      items.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  items.push(current);
  return items;
}

// ---------------------------------------------------------------------------------------------------- numbers

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function parseNumber(text: string, expression: string): number {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) throw new FilterSyntaxError(`Invalid number filter expression: "${expression}"`);
  return Number(trimmed);
}

function numberIntervalsOf(clause: string, expression: string): Interval[] {
  const text = clause.trim();
  const range = /^([[(])\s*([^,]*?)\s*,\s*([^,]*?)\s*([\])])$/.exec(text);
  if (range) {
    const lo = range[2] === '' ? Number.NEGATIVE_INFINITY : parseNumber(range[2] as string, expression);
    const hi = range[3] === '' ? Number.POSITIVE_INFINITY : parseNumber(range[3] as string, expression);
    return [{ lo, loIncl: range[1] === '[', hi, hiIncl: range[4] === ']' }];
  }
  const to = /^(.+?)\s+to\s+(.+)$/i.exec(text);
  if (to)
    return [
      {
        lo: parseNumber(to[1] as string, expression),
        loIncl: true,
        hi: parseNumber(to[2] as string, expression),
        hiIncl: true,
      },
    ];
  const comparison = /^(>=|<=|>|<|=)\s*(.+)$/.exec(text);
  if (comparison) {
    const value = parseNumber(comparison[2] as string, expression);
    switch (comparison[1]) {
      case '>':
        return [{ lo: value, loIncl: false, hi: Number.POSITIVE_INFINITY, hiIncl: false }];
      case '>=':
        return [{ lo: value, loIncl: true, hi: Number.POSITIVE_INFINITY, hiIncl: false }];
      case '<':
        return [{ lo: Number.NEGATIVE_INFINITY, loIncl: false, hi: value, hiIncl: false }];
      case '<=':
        return [{ lo: Number.NEGATIVE_INFINITY, loIncl: false, hi: value, hiIncl: true }];
      default:
        return [{ lo: value, loIncl: true, hi: value, hiIncl: true }];
    }
  }
  const value = parseNumber(text, expression);
  return [{ lo: value, loIncl: true, hi: value, hiIncl: true }];
}

function intersect(a: Interval, b: Interval): Interval {
  const lo = a.lo > b.lo ? a : a.lo < b.lo ? b : { lo: a.lo, loIncl: a.loIncl && b.loIncl };
  const hi = a.hi < b.hi ? a : a.hi > b.hi ? b : { hi: a.hi, hiIncl: a.hiIncl && b.hiIncl };
  return { lo: lo.lo, loIncl: lo.loIncl, hi: hi.hi, hiIncl: hi.hiIncl };
}

export function compileNumberFilter(expression: string): CompiledFilter {
  const positives: ((v: RawValue) => boolean)[] = [];
  const negatives: ((v: RawValue) => boolean)[] = [];
  const intervals: Interval[] = [];
  let pureIntervals = true;
  const clauses = splitList(expression, false).flatMap((item) => item.split(/\s+OR\s+/i));
  for (const raw of clauses) {
    const clause = raw.trim();
    if (clause === '') throw new FilterSyntaxError(`Invalid number filter expression: "${expression}"`);
    const upper = clause.toUpperCase();
    if (upper === 'NULL') {
      positives.push((v) => v === null);
      pureIntervals = false;
      continue;
    }
    if (upper === 'NOT NULL' || upper === '-NULL') {
      negatives.push((v) => v !== null);
      pureIntervals = false;
      continue;
    }
    const negated = /^(not\s+|<>\s*|!=\s*)(.+)$/i.exec(clause);
    if (negated) {
      const excluded = numberIntervalsOf(negated[2] as string, expression);
      negatives.push((v) => typeof v === 'number' && !excluded.some((i) => inInterval(v, i)));
      pureIntervals = false;
      continue;
    }
    // `>=5.5 AND <=10`: every part must hold.
    const parts = clause.split(/\s+AND\s+/i).map((part) => numberIntervalsOf(part, expression));
    let combined = parts[0]?.[0] as Interval;
    for (const part of parts.slice(1)) combined = intersect(combined, part[0] as Interval);
    intervals.push(combined);
    positives.push((v) => typeof v === 'number' && inInterval(v, combined));
  }
  const test = combine(positives, negatives);
  return { test, intervals: pureIntervals ? intervals : null };
}

// ---------------------------------------------------------------------------------------------------- yesno

export function compileYesNoFilter(expression: string): CompiledFilter {
  const text = expression.trim().toLowerCase();
  if (text === 'yes') return { test: (v) => v === true, intervals: null };
  if (text === 'no') return { test: (v) => v === false, intervals: null };
  throw new FilterSyntaxError(`Invalid yesno filter expression: "${expression}" (use Yes or No)`);
}

// ---------------------------------------------------------------------------------------------------- strings

/** Turns one string filter value into a matcher: `^` escapes, `%` any run, `_` any one character. */
function stringMatcher(pattern: string): (v: string) => boolean {
  let regex = '';
  let literal = '';
  let wildcard = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '^' && i + 1 < pattern.length) {
      const next = pattern[i + 1] as string;
      regex += next.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      literal += next;
      i++;
    } else if (ch === '%') {
      regex += '[\\s\\S]*';
      wildcard = true;
    } else if (ch === '_') {
      regex += '[\\s\\S]';
      wildcard = true;
    } else {
      regex += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      literal += ch;
    }
  }
  if (!wildcard) return (v) => v === literal;
  const compiled = new RegExp(`^${regex}$`);
  return (v) => compiled.test(v);
}

export function compileStringFilter(expression: string): CompiledFilter {
  const positives: ((v: RawValue) => boolean)[] = [];
  const negatives: ((v: RawValue) => boolean)[] = [];
  for (const raw of splitList(expression, true)) {
    let item = raw.trim();
    const negated = item.startsWith('-');
    if (negated) item = item.slice(1);
    let matcher: (v: RawValue) => boolean;
    if (item === 'NULL') matcher = (v) => v === null;
    else if (item === 'EMPTY') matcher = (v) => v === null || v === '';
    else {
      const match = stringMatcher(item);
      matcher = (v) => v !== null && match(String(v));
    }
    if (negated) negatives.push((v) => !matcher(v));
    else positives.push(matcher);
  }
  return { test: combine(positives, negatives), intervals: null };
}

// ---------------------------------------------------------------------------------------------------- dates

type Unit = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year';

const UNITS: Record<string, Unit> = {
  second: 'second',
  seconds: 'second',
  minute: 'minute',
  minutes: 'minute',
  hour: 'hour',
  hours: 'hour',
  day: 'day',
  days: 'day',
  week: 'week',
  weeks: 'week',
  month: 'month',
  months: 'month',
  quarter: 'quarter',
  quarters: 'quarter',
  year: 'year',
  years: 'year',
};

const FIXED_SECONDS: Partial<Record<Unit, number>> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: DAY,
  week: 7 * DAY,
};

/** Adds `count` units to a local wall-clock time (months and years by the calendar). */
function addUnits(local: number, unit: Unit, count: number): number {
  const fixed = FIXED_SECONDS[unit];
  if (fixed !== undefined) return local + fixed * count;
  const days = Math.floor(local / DAY);
  const secondOfDay = local - days * DAY;
  const { year, month, day } = civilFromDays(days);
  const months = unit === 'year' ? 12 * count : unit === 'quarter' ? 3 * count : count;
  const total = year * 12 + (month - 1) + months;
  const newYear = Math.floor(total / 12);
  const newMonth = (total % 12) + 1;
  return daysFromCivil(newYear, newMonth, day) * DAY + secondOfDay;
}

/** Start of the unit containing a local time (weeks start on Monday, Looker's default week_start_day). */
function startOf(local: number, unit: Unit): number {
  const fixed = FIXED_SECONDS[unit];
  if (unit === 'week') {
    const days = Math.floor(local / DAY);
    return (days - ((((days + 3) % 7) + 7) % 7)) * DAY;
  }
  if (fixed !== undefined) return Math.floor(local / fixed) * fixed;
  const { year, month } = civilFromDays(Math.floor(local / DAY));
  if (unit === 'month') return daysFromCivil(year, month, 1) * DAY;
  if (unit === 'quarter') return daysFromCivil(year, month - ((month - 1) % 3), 1) * DAY;
  return daysFromCivil(year, 1, 1) * DAY;
}

/** A span of local time: [start, end). */
interface Span {
  start: number;
  end: number;
}

const ABSOLUTE = /^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?)?)?$/;

function absoluteSpan(text: string): Span | null {
  const m = ABSOLUTE.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const days = daysFromCivil(year, month, day);
  const check = civilFromDays(days);
  if (
    month < 1 ||
    month > 12 ||
    check.month !== month ||
    check.day !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return null;
  }
  const start = days * DAY + hour * 3600 + minute * 60 + second;
  const unit: Unit =
    m[2] === undefined
      ? 'year'
      : m[3] === undefined
        ? 'month'
        : m[4] === undefined
          ? 'day'
          : m[6] === undefined
            ? 'minute'
            : 'second';
  return { start, end: addUnits(start, unit, 1) };
}

function parseUnit(text: string): Unit | null {
  return UNITS[text.toLowerCase()] ?? null;
}

/** A moment or period: an absolute date, `today`, `this week`, `3 days ago`, `7 days`, `now`, … */
function spanOf(text: string, nowLocal: number): Span | null {
  const t = text.trim().replace(/\s+/g, ' ');
  const lower = t.toLowerCase();
  const absolute = absoluteSpan(t);
  if (absolute) return absolute;
  if (lower === 'now') return { start: nowLocal, end: nowLocal + 1 };
  const named: Record<string, [Unit, number]> = {
    today: ['day', 0],
    yesterday: ['day', -1],
    tomorrow: ['day', 1],
  };
  const namedSpan = named[lower];
  if (namedSpan) {
    const start = addUnits(startOf(nowLocal, namedSpan[0]), namedSpan[0], namedSpan[1]);
    return { start, end: addUnits(start, namedSpan[0], 1) };
  }
  const relative = /^(this|last|next) (\w+)$/.exec(lower);
  if (relative) {
    const unit = parseUnit(relative[2] as string);
    if (!unit) return null;
    const shift = relative[1] === 'this' ? 0 : relative[1] === 'last' ? -1 : 1;
    const start = addUnits(startOf(nowLocal, unit), unit, shift);
    return { start, end: addUnits(start, unit, 1) };
  }
  const ago = /^(\d+) (\w+) (ago|from now)$/.exec(lower);
  if (ago) {
    const unit = parseUnit(ago[2] as string);
    if (!unit) return null;
    const n = Number(ago[1]) * (ago[3] === 'ago' ? -1 : 1);
    const start = addUnits(startOf(nowLocal, unit), unit, n);
    return { start, end: addUnits(start, unit, 1) };
  }
  // `7 days`: the last 7 days including the current one.
  const last = /^(\d+) (\w+)$/.exec(lower);
  if (last) {
    const unit = parseUnit(last[2] as string);
    if (!unit) return null;
    const current = startOf(nowLocal, unit);
    return { start: addUnits(current, unit, 1 - Number(last[1])), end: addUnits(current, unit, 1) };
  }
  return null;
}

function localInterval(start: number, end: number, zone: Zone): Interval {
  const lo = Number.isFinite(start) ? zone.fromLocal(start) : start;
  const hi = Number.isFinite(end) ? zone.fromLocal(end) : end;
  return { lo, loIncl: true, hi, hiIncl: false };
}

function dateClauseInterval(clause: string, env: FilterEnv, expression: string): Interval {
  const nowLocal = env.zone.toLocal(env.nowSec);
  const fail = () => new FilterSyntaxError(`Invalid date filter expression: "${expression}"`);
  const text = clause.trim().replace(/\s+/g, ' ');
  const span = (part: string) => {
    const s = spanOf(part, nowLocal);
    if (!s) throw fail();
    return s;
  };
  const to = /^(.+?) to (.+)$/i.exec(text);
  if (to) return localInterval(span(to[1] as string).start, span(to[2] as string).start, env.zone);
  const after = /^after (.+)$/i.exec(text);
  if (after) return localInterval(span(after[1] as string).start, Number.POSITIVE_INFINITY, env.zone);
  const before = /^before (.+)$/i.exec(text);
  if (before) return localInterval(Number.NEGATIVE_INFINITY, span(before[1] as string).start, env.zone);
  const forDuration = /^(.+?) for (\d+) (\w+)$/i.exec(text);
  if (forDuration) {
    const unit = parseUnit(forDuration[3] as string);
    if (!unit) throw fail();
    const start = span(forDuration[1] as string).start;
    return localInterval(start, addUnits(start, unit, Number(forDuration[2])), env.zone);
  }
  const whole = span(text);
  return localInterval(whole.start, whole.end, env.zone);
}

export function compileDateFilter(expression: string, env: FilterEnv): CompiledFilter {
  const positives: ((v: RawValue) => boolean)[] = [];
  const negatives: ((v: RawValue) => boolean)[] = [];
  const intervals: Interval[] = [];
  let pureIntervals = true;
  for (const raw of splitList(expression, false)) {
    const clause = raw.trim();
    const upper = clause.toUpperCase().replace(/\s+/g, ' ');
    if (upper === 'NULL') {
      positives.push((v) => v === null);
      pureIntervals = false;
    } else if (upper === 'NOT NULL' || upper === '-NULL') {
      negatives.push((v) => v !== null);
      pureIntervals = false;
    } else {
      const interval = dateClauseInterval(clause, env, expression);
      intervals.push(interval);
      positives.push((v) => typeof v === 'number' && inInterval(v, interval));
    }
  }
  return { test: combine(positives, negatives), intervals: pureIntervals ? intervals : null };
}
