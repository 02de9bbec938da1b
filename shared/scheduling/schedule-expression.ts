/**
 * EventBridge Scheduler expressions: `at(…)`, `rate(…)` and `cron(…)` as the service
 * documents them, validated with readable reasons and evaluated in a time zone. The API
 * checks a sync's `schedule` with it and shows `nextRunAt`; the local scheduler fires by it.
 */
import * as z from 'zod';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

interface FieldDefinition {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}
const MINUTES: FieldDefinition = { label: 'minutes', min: 0, max: 59 };
const HOURS: FieldDefinition = { label: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldDefinition = { label: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldDefinition = { label: 'month', min: 1, max: 12, names: MONTH_NAMES };
const DAY_OF_WEEK: FieldDefinition = { label: 'day-of-week', min: 1, max: 7, names: DAY_NAMES };
const YEAR: FieldDefinition = { label: 'year', min: MIN_YEAR, max: MAX_YEAR };

type DayOfMonthSpec =
  | { kind: 'any' }
  | { kind: 'days'; days: Set<number> }
  | { kind: 'last' }
  | { kind: 'lastWeekday' }
  | { kind: 'nearestWeekday'; day: number };

type DayOfWeekSpec =
  | { kind: 'any' }
  | { kind: 'days'; days: Set<number> }
  | { kind: 'lastOfMonth'; weekday: number }
  | { kind: 'nth'; weekday: number; nth: number };

interface CronSpec {
  minutes: number[];
  hours: number[];
  dayOfMonth: DayOfMonthSpec;
  months: Set<number>;
  dayOfWeek: DayOfWeekSpec;
  years: Set<number>;
}

interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export type ParsedExpression =
  | { kind: 'at'; at: LocalDateTime }
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; cron: CronSpec };

/** An expression that is not valid; the message says why, in words fit for an API answer. */
class ExpressionError extends Error {}

/**
 * Checks an EventBridge Scheduler expression: `at(yyyy-mm-ddThh:mm:ss)`,
 * `rate(N minute|minutes|hour|hours|day|days)` or `cron(minutes hours day-of-month month
 * day-of-week year)`. Returns undefined when it is valid, else a readable reason.
 */
export function validateScheduleExpression(expression: string): string | undefined {
  try {
    parseScheduleExpression(expression);
    return undefined;
  } catch (error) {
    if (error instanceof ExpressionError) return error.message;
    throw error;
  }
}

/**
 * The first time strictly after `after` at which `expression`, evaluated in `timezone` (an
 * IANA name such as `UTC` or `Europe/Paris`), fires; undefined when it never fires again.
 * rate() occurrences are `anchor + k × period` (k ≥ 0); `anchor` defaults to the Unix epoch.
 * Throws a RangeError for an invalid expression or time zone.
 */
export function nextFireTime(expression: string, timezone: string, after: Date, anchor?: Date): Date | undefined {
  let parsed: ParsedExpression;
  try {
    parsed = parseScheduleExpression(expression);
  } catch (error) {
    if (error instanceof ExpressionError) throw new RangeError(`Invalid schedule expression ${expression}: ${error.message}`);
    throw error;
  }
  if (!isValidTimeZone(timezone)) throw new RangeError(`Invalid time zone ${timezone}`);
  const next = nextOccurrence(parsed, timezone, after.getTime(), anchor?.getTime() ?? 0);
  return next === undefined ? undefined : new Date(next);
}

/** Whether `timezone` is a time zone name this runtime knows (IANA names, `UTC`). */
export function isValidTimeZone(timezone: string): boolean {
  if (timezone.length === 0) return false;
  try {
    formatterFor(timezone);
    return true;
  } catch {
    return false;
  }
}

export function parseScheduleExpression(expression: string): ParsedExpression {
  if (typeof expression !== 'string' || expression.length === 0) throw new ExpressionError('the expression is empty');
  if (expression.length > 256) throw new ExpressionError('the expression is longer than 256 characters');
  const match = /^(at|rate|cron)\((.*)\)$/s.exec(expression);
  if (!match) {
    throw new ExpressionError('the expression must be at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)');
  }
  const [, kind, body = ''] = match;
  if (kind === 'at') return { kind: 'at', at: parseAt(body) };
  if (kind === 'rate') return { kind: 'rate', periodMs: parseRate(body) };
  return { kind: 'cron', cron: parseCron(body) };
}

function parseAt(body: string): LocalDateTime {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!match) throw new ExpressionError('at() takes a date and time as yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T18:30:00)');
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12) throw new ExpressionError(`at(): month ${month} is not 01-12`);
  if (day < 1 || day > daysInMonth(year, month)) throw new ExpressionError(`at(): ${body.slice(0, 10)} is not a date`);
  if (hour > 23 || minute > 59 || second > 59) throw new ExpressionError(`at(): ${body.slice(11)} is not a time of day`);
  return { year, month, day, hour, minute, second };
}

function parseRate(body: string): number {
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(body);
  if (!match) throw new ExpressionError('rate() takes a value and a unit, e.g. rate(5 minutes)');
  const [, valueText = '', unit = ''] = match;
  if (!/^\d+$/.test(valueText)) throw new ExpressionError(`rate(): the value ${valueText} is not a positive whole number`);
  const value = Number(valueText);
  if (value < 1) throw new ExpressionError('rate(): the value must be 1 or more');
  const units: Record<string, number> = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: DAY_MS };
  const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;
  const unitMs = units[singular];
  if (unitMs === undefined) throw new ExpressionError(`rate(): the unit ${unit} is not one of minute(s), hour(s), day(s)`);
  if (value === 1 && unit !== singular) throw new ExpressionError(`rate(): with the value 1 the unit must be singular (${singular})`);
  if (value > 1 && unit === singular) throw new ExpressionError(`rate(): with a value above 1 the unit must be plural (${singular}s)`);
  const periodMs = value * unitMs;
  if (!Number.isSafeInteger(periodMs) || periodMs > 1000 * 365 * DAY_MS) throw new ExpressionError('rate(): the value is too large');
  return periodMs;
}

function parseCron(body: string): CronSpec {
  const fields = body.trim().split(/\s+/).filter((field) => field.length > 0);
  if (fields.length !== 6) {
    throw new ExpressionError(
      `cron() needs six fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [minutes = '', hours = '', dayOfMonth = '', month = '', dayOfWeek = '', year = ''] = fields;
  if (dayOfMonth === '?' && dayOfWeek === '?') {
    throw new ExpressionError('cron(): only one of day-of-month and day-of-week can be ?; give a value or * in the other');
  }
  if (dayOfMonth !== '?' && dayOfWeek !== '?') {
    throw new ExpressionError('cron(): one of day-of-month and day-of-week must be ? (they cannot both be given)');
  }
  for (const [field, definition] of [
    [minutes, MINUTES],
    [hours, HOURS],
    [month, MONTH],
    [year, YEAR],
  ] as const) {
    if (field.includes('?')) throw new ExpressionError(`cron(): ? is only allowed in day-of-month or day-of-week, not in ${definition.label}`);
  }
  return {
    minutes: [...parseList(minutes, MINUTES, true)].sort((a, b) => a - b),
    hours: [...parseList(hours, HOURS, true)].sort((a, b) => a - b),
    dayOfMonth: parseDayOfMonth(dayOfMonth),
    months: parseList(month, MONTH, true),
    dayOfWeek: parseDayOfWeek(dayOfWeek),
    years: parseList(year, YEAR, true),
  };
}

function parseDayOfMonth(field: string): DayOfMonthSpec {
  if (field === '?') return { kind: 'any' };
  const upper = field.toUpperCase();
  if (upper === 'L') return { kind: 'last' };
  if (upper === 'LW') return { kind: 'lastWeekday' };
  const nearest = /^(\d{1,2})W$/i.exec(field);
  if (nearest) {
    const day = Number(nearest[1]);
    if (day < 1 || day > 31) throw new ExpressionError(`cron(): day-of-month ${field}: the day must be 1-31`);
    return { kind: 'nearestWeekday', day };
  }
  if (/[LW]/i.test(field)) {
    throw new ExpressionError(`cron(): day-of-month ${field}: L and W stand alone (L, LW or nW), not in lists or ranges`);
  }
  return { kind: 'days', days: parseList(field, DAY_OF_MONTH, true) };
}

function parseDayOfWeek(field: string): DayOfWeekSpec {
  if (field === '?') return { kind: 'any' };
  const upper = field.toUpperCase();
  if (upper === 'L') return { kind: 'days', days: new Set([7]) };
  const last = /^([1-7]|[A-Z]{3})L$/.exec(upper);
  if (last) return { kind: 'lastOfMonth', weekday: parseValue(last[1] ?? '', DAY_OF_WEEK) };
  if (field.includes('#')) {
    const nth = /^([1-7]|[A-Z]{3})#([1-5])$/.exec(upper);
    if (!nth) {
      throw new ExpressionError(`cron(): day-of-week ${field}: # takes one weekday and an occurrence 1-5 (e.g. 3#2), alone in the field`);
    }
    return { kind: 'nth', weekday: parseValue(nth[1] ?? '', DAY_OF_WEEK), nth: Number(nth[2]) };
  }
  if (upper.includes('L')) {
    throw new ExpressionError(`cron(): day-of-week ${field}: L stands alone (L or nL), not in lists or ranges`);
  }
  if (field.includes('/')) throw new ExpressionError('cron(): day-of-week does not accept / increments');
  return { kind: 'days', days: parseList(field, DAY_OF_WEEK, false) };
}

function parseList(field: string, definition: FieldDefinition, allowIncrement: boolean): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    if (part.length === 0) throw new ExpressionError(`cron(): ${definition.label} ${field} has an empty list element`);
    const pieces = part.split('/');
    if (pieces.length > 2) throw new ExpressionError(`cron(): ${definition.label} ${part} has more than one /`);
    const [range = '', incrementText] = pieces;
    if (incrementText !== undefined && !allowIncrement) {
      throw new ExpressionError(`cron(): ${definition.label} does not accept / increments`);
    }
    let start: number;
    let end: number;
    if (range === '*') {
      start = definition.min;
      end = definition.max;
    } else if (range.includes('-')) {
      const bounds = range.split('-');
      if (bounds.length !== 2) throw new ExpressionError(`cron(): ${definition.label} ${part} is not a valid range`);
      start = parseValue(bounds[0] ?? '', definition);
      end = parseValue(bounds[1] ?? '', definition);
      if (start > end) throw new ExpressionError(`cron(): ${definition.label} range ${range} runs backwards`);
    } else {
      start = parseValue(range, definition);
      end = incrementText === undefined ? start : definition.max;
    }
    let increment = 1;
    if (incrementText !== undefined) {
      if (!/^\d+$/.test(incrementText) || Number(incrementText) < 1) {
        throw new ExpressionError(`cron(): ${definition.label} ${part}: the increment must be a whole number of 1 or more`);
      }
      increment = Number(incrementText);
    }
    for (let value = start; value <= end; value += increment) values.add(value);
  }
  return values;
}

function parseValue(token: string, definition: FieldDefinition): number {
  let value: number | undefined;
  if (/^\d+$/.test(token)) value = Number(token);
  else if (definition.names) {
    const index = definition.names.indexOf(token.toUpperCase());
    if (index >= 0) value = index + 1;
  }
  if (value === undefined) {
    const names = definition.names ? ` or ${definition.names[0]}-${definition.names[definition.names.length - 1]}` : '';
    throw new ExpressionError(`cron(): ${token === '' ? 'an empty value' : token} is not a valid ${definition.label} (${definition.min}-${definition.max}${names})`);
  }
  if (value < definition.min || value > definition.max) {
    throw new ExpressionError(`cron(): ${definition.label} ${token} is out of range ${definition.min}-${definition.max}`);
  }
  return value;
}

export function nextOccurrence(parsed: ParsedExpression, timezone: string, after: number, anchor: number): number | undefined {
  switch (parsed.kind) {
    case 'at': {
      // A one-time schedule still fires when its local time falls in a daylight-saving gap.
      const at = localToInstant(parsed.at, timezone, 'later');
      return at !== undefined && at > after ? at : undefined;
    }
    case 'rate': {
      if (after < anchor) return anchor;
      return anchor + (Math.floor((after - anchor) / parsed.periodMs) + 1) * parsed.periodMs;
    }
    case 'cron':
      return nextCronOccurrence(parsed.cron, timezone, after);
  }
}

function nextCronOccurrence(cron: CronSpec, timezone: string, after: number): number | undefined {
  const start = wallClock(after, timezone);
  let { year, month, day } = start;
  let firstDay = true;
  while (year <= MAX_YEAR) {
    if (!cron.years.has(year)) {
      const nextYear = [...cron.years].filter((candidate) => candidate > year).sort((a, b) => a - b)[0];
      if (nextYear === undefined) return undefined;
      year = nextYear;
      month = 1;
      day = 1;
      firstDay = false;
      continue;
    }
    if (!cron.months.has(month) || day > daysInMonth(year, month)) {
      month += 1;
      day = 1;
      firstDay = false;
      if (month > 12) {
        year += 1;
        month = 1;
      }
      continue;
    }
    if (dayMatches(cron, year, month, day)) {
      for (const hour of cron.hours) {
        if (firstDay && hour < start.hour) continue;
        for (const minute of cron.minutes) {
          if (firstDay && hour === start.hour && minute < start.minute) continue;
          // A local time skipped by a daylight-saving change does not fire; a repeated one fires once.
          const instant = localToInstant({ year, month, day, hour, minute, second: 0 }, timezone, 'skip');
          if (instant !== undefined && instant > after) return instant;
        }
      }
    }
    day += 1;
    firstDay = false;
  }
  return undefined;
}

function dayMatches(cron: CronSpec, year: number, month: number, day: number): boolean {
  const lastDay = daysInMonth(year, month);
  const weekday = weekdayOf(year, month, day);
  const dom = cron.dayOfMonth;
  switch (dom.kind) {
    case 'days':
      return dom.days.has(day);
    case 'last':
      return day === lastDay;
    case 'lastWeekday': {
      const lastWeekday = weekdayOf(year, month, lastDay);
      const target = lastWeekday === 1 ? lastDay - 2 : lastWeekday === 7 ? lastDay - 1 : lastDay;
      return day === target;
    }
    case 'nearestWeekday': {
      if (dom.day > lastDay) return false;
      const targetWeekday = weekdayOf(year, month, dom.day);
      let target = dom.day;
      if (targetWeekday === 7) target = dom.day === 1 ? 3 : dom.day - 1;
      else if (targetWeekday === 1) target = dom.day === lastDay ? dom.day - 2 : dom.day + 1;
      return day === target;
    }
    case 'any':
      break;
  }
  const dow = cron.dayOfWeek;
  switch (dow.kind) {
    case 'days':
      return dow.days.has(weekday);
    case 'lastOfMonth':
      return weekday === dow.weekday && day + 7 > lastDay;
    case 'nth':
      return weekday === dow.weekday && Math.ceil(day / 7) === dow.nth;
    case 'any':
      return true;
  }
}

/** 1 = Sunday … 7 = Saturday, as in cron expressions. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

function isUtc(timezone: string): boolean {
  const resolved = formatterFor(timezone).resolvedOptions().timeZone;
  return resolved === 'UTC' || resolved === 'Etc/UTC' || resolved === 'Etc/GMT' || resolved === 'GMT';
}

/** The local date and time in `timezone` at the instant `ms`. */
function wallClock(ms: number, timezone: string): LocalDateTime {
  if (isUtc(timezone)) {
    const date = new Date(ms);
    return {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      hour: date.getUTCHours(),
      minute: date.getUTCMinutes(),
      second: date.getUTCSeconds(),
    };
  }
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** How far `timezone`'s clocks are ahead of UTC at the instant `ms`, in ms. */
function offsetAt(ms: number, timezone: string): number {
  const wall = wallClock(ms, timezone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return wallAsUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant at which clocks in `timezone` show `local`. A repeated local time (clocks going
 * back) gives its first instant; a skipped one (clocks going forward) gives undefined with
 * `skip`, or the instant as far past the gap as the time was into it with `later`.
 */
function localToInstant(local: LocalDateTime, timezone: string, gap: 'skip' | 'later'): number | undefined {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  if (isUtc(timezone)) return asUtc;
  const offsetBefore = offsetAt(asUtc - DAY_MS, timezone);
  const offsetAfter = offsetAt(asUtc + DAY_MS, timezone);
  const candidates = [...new Set([offsetBefore, offsetAfter])]
    .map((offset) => asUtc - offset)
    .filter((instant) => sameLocalTime(wallClock(instant, timezone), local))
    .sort((a, b) => a - b);
  if (candidates[0] !== undefined) return candidates[0];
  return gap === 'skip' ? undefined : asUtc - offsetBefore;
}

function sameLocalTime(a: LocalDateTime, b: LocalDateTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;
}

/** The `schedule` setting of a sync: a Scheduler expression, refused with the reason when it is not one. */
export const scheduleExpressionField = z
  .string()
  .max(256)
  .superRefine((expression, context) => {
    const problem = validateScheduleExpression(expression);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });
