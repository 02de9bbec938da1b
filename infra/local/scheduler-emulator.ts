/**
 * A local stand-in for Amazon EventBridge Scheduler: an in-process HTTP server speaking the
 * service's REST-JSON protocol, so the real `SchedulerClient` runs over HTTP locally and in
 * tests, plus a clock that fires due schedules by calling `invoke` (the local stack invokes
 * the target function).
 *
 * Served: CreateSchedule, GetSchedule, UpdateSchedule, DeleteSchedule, ListSchedules,
 * CreateScheduleGroup, GetScheduleGroup, DeleteScheduleGroup, ListScheduleGroups. The group
 * `default` always exists.
 *
 * Firing follows the service's documented behaviour: cron and at() are evaluated in the
 * schedule's time zone (a local time skipped by a daylight-saving change does not fire, a
 * repeated one fires once); rate() counts fixed durations from StartDate, or from the moment
 * the schedule was created or last updated ("starts immediately"). Unlike the service, missed
 * occurrences (the process was stopped, or a tick came late) fire once, not once each, and
 * neither FlexibleTimeWindow nor RetryPolicy is applied: a due schedule fires at the next
 * tick, a failed invocation is logged and not retried.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import { readBodyUpTo } from './request-body.js';

export interface LocalScheduler {
  endpoint: string;
  close(): Promise<void>;
  /** evaluates due schedules now (tests call it with a fake clock) */
  tick(): Promise<void>;
}

export interface ScheduleInvocation {
  arn: string;
  input: string | undefined;
  scheduleName: string;
  groupName: string;
}

export interface LocalSchedulerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** JSON file: loaded at start when present, rewritten (tmp file + rename) after every change. */
  persistFile?: string;
  /** called when a schedule fires: the target ARN and its Input string */
  invoke: (target: ScheduleInvocation) => Promise<void>;
  /** default () => new Date() */
  now?: () => Date;
  /** default 15_000; 0 disables the timer (tests call tick()) */
  tickIntervalMs?: number;
}

// ---------------------------------------------------------------------------------------
// Schedule expressions
// ---------------------------------------------------------------------------------------

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

type ParsedExpression =
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

function parseScheduleExpression(expression: string): ParsedExpression {
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

function nextOccurrence(parsed: ParsedExpression, timezone: string, after: number, anchor: number): number | undefined {
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

// ---------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const DEFAULT_GROUP = 'default';
const NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;
const MAX_BODY_BYTES = 1024 * 1024;
const FILE_FORMAT = 'roster-local-scheduler/1';

const storedScheduleSchema = z.object({
  Name: z.string(),
  GroupName: z.string(),
  ScheduleExpression: z.string(),
  ScheduleExpressionTimezone: z.string(),
  State: z.enum(['ENABLED', 'DISABLED']),
  Description: z.string().optional(),
  StartDate: z.number().optional(),
  EndDate: z.number().optional(),
  KmsKeyArn: z.string().optional(),
  Target: z.record(z.string(), z.unknown()),
  FlexibleTimeWindow: z.record(z.string(), z.unknown()),
  ActionAfterCompletion: z.enum(['NONE', 'DELETE']),
  CreationDate: z.number(),
  LastModificationDate: z.number(),
  ClientToken: z.string().optional(),
  /** the instant up to which occurrences have been accounted for (fired or passed over) */
  lastEvaluatedAt: z.number().optional(),
  /** when the schedule last fired */
  lastFiredAt: z.number().optional(),
});
const storedGroupSchema = z.object({
  Name: z.string(),
  CreationDate: z.number(),
  LastModificationDate: z.number(),
  Tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
  ClientToken: z.string().optional(),
});
const storedFileSchema = z.object({
  format: z.literal(FILE_FORMAT),
  groups: z.array(storedGroupSchema),
  schedules: z.array(storedScheduleSchema),
});

type StoredSchedule = z.infer<typeof storedScheduleSchema>;
type StoredGroup = z.infer<typeof storedGroupSchema>;
type Json = Record<string, unknown>;

/** An error answered as the service does: status, `x-amzn-ErrorType` and `{"Message"}`. */
class SchedulerError extends Error {
  constructor(
    readonly type: 'ValidationException' | 'ResourceNotFoundException' | 'ConflictException' | 'InternalServerException' | 'UnknownOperationException',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
const validation = (message: string) => new SchedulerError('ValidationException', 400, message);
const notFound = (message: string) => new SchedulerError('ResourceNotFoundException', 404, message);
const conflict = (message: string) => new SchedulerError('ConflictException', 409, message);

const scheduleKey = (group: string, name: string) => `${group}/${name}`;
const scheduleArn = (group: string, name: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/${name}`;
const groupArn = (name: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${name}`;
const epochSeconds = (ms: number) => ms / 1000;

export async function startLocalScheduler(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? (() => new Date());
  const nowMs = () => now().getTime();
  const groups = new Map<string, StoredGroup>();
  const schedules = new Map<string, StoredSchedule>();

  if (options.persistFile) {
    const state = await loadState(options.persistFile);
    for (const group of state?.groups ?? []) groups.set(group.Name, group);
    for (const schedule of state?.schedules ?? []) schedules.set(scheduleKey(schedule.GroupName, schedule.Name), schedule);
  }
  if (!groups.has(DEFAULT_GROUP)) {
    const created = nowMs();
    groups.set(DEFAULT_GROUP, { Name: DEFAULT_GROUP, CreationDate: created, LastModificationDate: created });
  }

  let writes: Promise<void> = Promise.resolve();
  const persist = (): Promise<void> => {
    const file = options.persistFile;
    if (!file) return Promise.resolve();
    const snapshot = JSON.stringify({ format: FILE_FORMAT, groups: [...groups.values()], schedules: [...schedules.values()] }, null, 2);
    const write = writes.then(() => writeAtomically(file, snapshot));
    writes = write.catch(() => undefined);
    return write;
  };

  const requireGroup = (name: string): StoredGroup => {
    const group = groups.get(name);
    if (!group) throw notFound(`Schedule group ${name} does not exist.`);
    return group;
  };
  const requireSchedule = (group: string, name: string): StoredSchedule => {
    const schedule = schedules.get(scheduleKey(group, name));
    if (!schedule) throw notFound(`Schedule ${name} does not exist.`);
    return schedule;
  };

  const routes: Array<{ method: string; pattern: RegExp; handle: (params: string[], query: URLSearchParams, body: Json) => Promise<Json> }> = [
    {
      method: 'POST',
      pattern: /^\/schedules\/([^/]+)$/,
      async handle([name = ''], _query, body) {
        checkName(name, 'name');
        const groupName = groupNameFrom(body.GroupName);
        requireGroup(groupName);
        const existing = schedules.get(scheduleKey(groupName, name));
        const clientToken = optionalString(body.ClientToken, 'clientToken', 64);
        if (existing) {
          // A retry of the same create (same client token) succeeds without a change.
          if (clientToken && existing.ClientToken === clientToken) return { ScheduleArn: scheduleArn(groupName, name) };
          throw conflict(`Schedule ${name} already exists.`);
        }
        const created = nowMs();
        const schedule: StoredSchedule = {
          ...scheduleSettings(body),
          Name: name,
          GroupName: groupName,
          CreationDate: created,
          LastModificationDate: created,
          ...(clientToken ? { ClientToken: clientToken } : {}),
        };
        schedules.set(scheduleKey(groupName, name), schedule);
        await persist();
        return { ScheduleArn: scheduleArn(groupName, name) };
      },
    },
    {
      method: 'GET',
      pattern: /^\/schedules\/([^/]+)$/,
      async handle([name = ''], query) {
        checkName(name, 'name');
        const groupName = groupNameFrom(query.get('groupName') ?? undefined);
        return describeSchedule(requireSchedule(groupName, name));
      },
    },
    {
      method: 'PUT',
      pattern: /^\/schedules\/([^/]+)$/,
      async handle([name = ''], _query, body) {
        checkName(name, 'name');
        const groupName = groupNameFrom(body.GroupName);
        const existing = requireSchedule(groupName, name);
        // UpdateSchedule replaces the whole definition: what is left out returns to its default.
        const updated: StoredSchedule = {
          ...scheduleSettings(body),
          Name: name,
          GroupName: groupName,
          CreationDate: existing.CreationDate,
          LastModificationDate: nowMs(),
          ...(existing.ClientToken ? { ClientToken: existing.ClientToken } : {}),
          ...(existing.lastFiredAt !== undefined ? { lastFiredAt: existing.lastFiredAt } : {}),
        };
        schedules.set(scheduleKey(groupName, name), updated);
        await persist();
        return { ScheduleArn: scheduleArn(groupName, name) };
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/schedules\/([^/]+)$/,
      async handle([name = ''], query) {
        checkName(name, 'name');
        const groupName = groupNameFrom(query.get('groupName') ?? undefined);
        requireSchedule(groupName, name);
        schedules.delete(scheduleKey(groupName, name));
        await persist();
        return {};
      },
    },
    {
      method: 'GET',
      pattern: /^\/schedules$/,
      async handle(_params, query) {
        const groupName = query.get('ScheduleGroup') ?? undefined;
        if (groupName !== undefined) checkName(groupName, 'groupName');
        const prefix = query.get('NamePrefix') ?? undefined;
        if (prefix !== undefined) checkName(prefix, 'namePrefix');
        const state = query.get('State') ?? undefined;
        if (state !== undefined && state !== 'ENABLED' && state !== 'DISABLED') {
          throw validation(`Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`);
        }
        const items = [...schedules.values()]
          .filter((schedule) => groupName === undefined || schedule.GroupName === groupName)
          .filter((schedule) => prefix === undefined || schedule.Name.startsWith(prefix))
          .filter((schedule) => state === undefined || schedule.State === state)
          .map((schedule) => ({ key: scheduleKey(schedule.GroupName, schedule.Name), schedule }));
        const { page, nextToken } = paginate(items, query);
        return {
          Schedules: page.map(({ schedule }) => ({
            Arn: scheduleArn(schedule.GroupName, schedule.Name),
            Name: schedule.Name,
            GroupName: schedule.GroupName,
            State: schedule.State,
            CreationDate: epochSeconds(schedule.CreationDate),
            LastModificationDate: epochSeconds(schedule.LastModificationDate),
            Target: { Arn: schedule.Target.Arn },
          })),
          ...(nextToken ? { NextToken: nextToken } : {}),
        };
      },
    },
    {
      method: 'POST',
      pattern: /^\/schedule-groups\/([^/]+)$/,
      async handle([name = ''], _query, body) {
        checkName(name, 'name');
        const clientToken = optionalString(body.ClientToken, 'clientToken', 64);
        const existing = groups.get(name);
        if (existing) {
          if (clientToken && existing.ClientToken === clientToken) return { ScheduleGroupArn: groupArn(name) };
          throw conflict(`Schedule group ${name} already exists.`);
        }
        const created = nowMs();
        groups.set(name, {
          Name: name,
          CreationDate: created,
          LastModificationDate: created,
          ...(body.Tags !== undefined ? { Tags: parseTags(body.Tags) } : {}),
          ...(clientToken ? { ClientToken: clientToken } : {}),
        });
        await persist();
        return { ScheduleGroupArn: groupArn(name) };
      },
    },
    {
      method: 'GET',
      pattern: /^\/schedule-groups\/([^/]+)$/,
      async handle([name = '']) {
        checkName(name, 'name');
        return describeGroup(requireGroup(name));
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/schedule-groups\/([^/]+)$/,
      async handle([name = '']) {
        checkName(name, 'name');
        if (name === DEFAULT_GROUP) throw validation('The default schedule group cannot be deleted.');
        requireGroup(name);
        // The service deletes the group's schedules with it (asynchronously; here at once).
        for (const [key, schedule] of schedules) if (schedule.GroupName === name) schedules.delete(key);
        groups.delete(name);
        await persist();
        return {};
      },
    },
    {
      method: 'GET',
      pattern: /^\/schedule-groups$/,
      async handle(_params, query) {
        const prefix = query.get('NamePrefix') ?? undefined;
        if (prefix !== undefined) checkName(prefix, 'namePrefix');
        const items = [...groups.values()]
          .filter((group) => prefix === undefined || group.Name.startsWith(prefix))
          .map((group) => ({ key: group.Name, group }));
        const { page, nextToken } = paginate(items, query);
        return { ScheduleGroups: page.map(({ group }) => describeGroup(group)), ...(nextToken ? { NextToken: nextToken } : {}) };
      },
    },
  ];

  // ---- firing ----

  let evaluation: Promise<unknown> = Promise.resolve();
  const evaluateDue = async (): Promise<ScheduleInvocation[]> => {
    const evaluatedAt = nowMs();
    const due: ScheduleInvocation[] = [];
    let changed = false;
    for (const [key, schedule] of [...schedules]) {
      const parsed = tryParse(schedule.ScheduleExpression);
      if (!parsed) continue;
      const isOneTime = parsed.kind === 'at';
      const timezone = schedule.ScheduleExpressionTimezone;
      // rate() runs from StartDate, else from when the schedule was created or last updated.
      const anchor = schedule.StartDate ?? schedule.LastModificationDate;
      // Occurrences after this instant are not yet accounted for.
      let from = Math.max(schedule.lastEvaluatedAt ?? schedule.LastModificationDate - 1, schedule.lastFiredAt ?? -Infinity);
      if (!isOneTime && schedule.StartDate !== undefined) from = Math.max(from, schedule.StartDate - 1);
      const withinEnd = (instant: number) => isOneTime || schedule.EndDate === undefined || instant <= schedule.EndDate;

      if (schedule.State === 'ENABLED') {
        const next = nextOccurrence(parsed, timezone, from, anchor);
        // However many occurrences were missed since the last evaluation, the schedule fires once.
        if (next !== undefined && next <= evaluatedAt && withinEnd(next)) {
          schedule.lastFiredAt = evaluatedAt;
          due.push({
            arn: String(schedule.Target.Arn),
            input: typeof schedule.Target.Input === 'string' ? schedule.Target.Input : undefined,
            scheduleName: schedule.Name,
            groupName: schedule.GroupName,
          });
          changed = true;
        }
      }
      schedule.lastEvaluatedAt = Math.max(evaluatedAt, schedule.lastEvaluatedAt ?? -Infinity);

      if (schedule.ActionAfterCompletion === 'DELETE') {
        const upcoming = nextOccurrence(parsed, timezone, Math.max(from, evaluatedAt), anchor);
        if (upcoming === undefined || !withinEnd(upcoming)) {
          schedules.delete(key);
          changed = true;
        }
      }
    }
    // What fires is on disk before it is invoked, so a restart cannot fire it again.
    if (changed) await persist();
    return due;
  };

  const tick = async (): Promise<void> => {
    const evaluated = evaluation.then(evaluateDue);
    evaluation = evaluated.catch(() => undefined);
    const due = await evaluated;
    await Promise.all(
      due.map(async (invocation) => {
        try {
          await options.invoke(invocation);
        } catch (error) {
          // Not the input: it may carry anything the caller put in the schedule.
          console.error(
            `[local-scheduler] schedule ${invocation.groupName}/${invocation.scheduleName} failed to invoke ${invocation.arn}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }),
    );
  };

  // ---- HTTP ----

  const server = createServer((request, response) => {
    void handleRequest(request, response, routes);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const intervalMs = options.tickIntervalMs ?? 15_000;
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          tick().catch((error: unknown) => console.error(`[local-scheduler] tick failed: ${error instanceof Error ? error.message : String(error)}`));
        }, intervalMs)
      : undefined;
  timer?.unref();

  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tick,
    async close() {
      if (timer) clearInterval(timer);
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      await evaluation;
      await writes;
    },
  };
}

function tryParse(expression: string): ParsedExpression | undefined {
  try {
    return parseScheduleExpression(expression);
  } catch {
    return undefined;
  }
}

type Route = { method: string; pattern: RegExp; handle: (params: string[], query: URLSearchParams, body: Json) => Promise<Json> };

async function handleRequest(request: IncomingMessage, response: ServerResponse, routes: Route[]): Promise<void> {
  const requestId = randomUUID();
  const send = (status: number, body: Json, errorType?: string) => {
    const payload = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': requestId,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    response.end(payload);
  };
  try {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const raw = await readBody(request);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    let matched: { route: Route; params: string[] } | undefined;
    let pathKnown = false;
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathKnown = true;
      if (route.method !== request.method) continue;
      matched = { route, params: match.slice(1).map((param) => decodePathParam(param)) };
      break;
    }
    if (!matched) {
      throw new SchedulerError('UnknownOperationException', pathKnown ? 405 : 404, `No operation for ${request.method ?? ''} ${url.pathname}.`);
    }
    let body: unknown = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw validation('The request body is not valid JSON.');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw validation('The request body must be a JSON object.');
    send(200, await matched.route.handle(matched.params, url.searchParams, body as Json));
  } catch (error) {
    if (error instanceof SchedulerError) {
      send(error.status, { Message: error.message }, error.type);
    } else {
      console.error(`[local-scheduler] internal error: ${error instanceof Error ? error.message : String(error)}`);
      send(500, { Message: 'Unexpected error.' }, 'InternalServerException');
    }
  }
}

function decodePathParam(param: string): string {
  try {
    return decodeURIComponent(param);
  } catch {
    throw validation(`The path segment ${param} is not valid URL encoding.`);
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const body = await readBodyUpTo(request, MAX_BODY_BYTES);
  if (!body) throw validation('The request body is too large.');
  return body;
}

/** Validates the definition fields of CreateSchedule / UpdateSchedule and fills in defaults. */
function scheduleSettings(body: Json): Omit<StoredSchedule, 'Name' | 'GroupName' | 'CreationDate' | 'LastModificationDate'> {
  const expression = body.ScheduleExpression;
  if (expression === undefined || expression === null) throw missing('scheduleExpression');
  if (typeof expression !== 'string') throw validation('ScheduleExpression must be a string.');
  const reason = validateScheduleExpression(expression);
  if (reason) throw validation(`Invalid Schedule Expression ${expression}: ${reason}.`);

  const timezone = optionalString(body.ScheduleExpressionTimezone, 'scheduleExpressionTimezone', 50) ?? 'UTC';
  if (!isValidTimeZone(timezone)) throw validation(`Invalid ScheduleExpressionTimezone ${timezone}.`);

  const state = body.State ?? 'ENABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED') {
    throw validation(`Value '${String(state)}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`);
  }
  const action = body.ActionAfterCompletion ?? 'NONE';
  if (action !== 'NONE' && action !== 'DELETE') {
    throw validation(`Value '${String(action)}' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]`);
  }
  const description = optionalString(body.Description, 'description', 512);
  const kmsKeyArn = optionalString(body.KmsKeyArn, 'kmsKeyArn', 2048);
  const startDate = optionalTimestamp(body.StartDate, 'startDate');
  const endDate = optionalTimestamp(body.EndDate, 'endDate');
  if (startDate !== undefined && endDate !== undefined && endDate <= startDate) {
    throw validation('The EndDate you specify must be after the StartDate.');
  }
  return {
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: timezone,
    State: state,
    ActionAfterCompletion: action,
    FlexibleTimeWindow: parseFlexibleTimeWindow(body.FlexibleTimeWindow),
    Target: parseTarget(body.Target),
    ...(description !== undefined ? { Description: description } : {}),
    ...(kmsKeyArn !== undefined ? { KmsKeyArn: kmsKeyArn } : {}),
    ...(startDate !== undefined ? { StartDate: startDate } : {}),
    ...(endDate !== undefined ? { EndDate: endDate } : {}),
  };
}

function parseFlexibleTimeWindow(value: unknown): Json {
  if (value === undefined || value === null) throw missing('flexibleTimeWindow');
  if (typeof value !== 'object' || Array.isArray(value)) throw validation('FlexibleTimeWindow must be an object.');
  const { Mode: mode, MaximumWindowInMinutes: window } = value as Json;
  if (mode === undefined) throw missing('flexibleTimeWindow.mode');
  if (mode === 'OFF') {
    if (window !== undefined) throw validation('MaximumWindowInMinutes must not be set when the FlexibleTimeWindow mode is OFF.');
    return { Mode: 'OFF' };
  }
  if (mode === 'FLEXIBLE') {
    if (!Number.isInteger(window) || (window as number) < 1 || (window as number) > 1440) {
      throw validation('MaximumWindowInMinutes must be an integer from 1 to 1440 when the FlexibleTimeWindow mode is FLEXIBLE.');
    }
    return { Mode: 'FLEXIBLE', MaximumWindowInMinutes: window };
  }
  throw validation(`Value '${String(mode)}' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]`);
}

function parseTarget(value: unknown): Json {
  if (value === undefined || value === null) throw missing('target');
  if (typeof value !== 'object' || Array.isArray(value)) throw validation('Target must be an object.');
  const target = { ...(value as Json) };
  for (const field of ['Arn', 'RoleArn'] as const) {
    const text = target[field];
    if (text === undefined || text === null) throw missing(`target.${field === 'Arn' ? 'arn' : 'roleArn'}`);
    if (typeof text !== 'string' || text.length === 0 || text.length > 1600) throw validation(`Target.${field} must be a string of 1 to 1600 characters.`);
  }
  if (target.Input !== undefined && (typeof target.Input !== 'string' || target.Input.length === 0 || target.Input.length > 8192)) {
    throw validation('Target.Input must be a string of 1 to 8192 characters.');
  }
  if (target.RetryPolicy === undefined) {
    // What the service reports when no retry policy was given.
    target.RetryPolicy = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 };
  } else {
    const policy = target.RetryPolicy as Json | null;
    const age = policy?.MaximumEventAgeInSeconds;
    const attempts = policy?.MaximumRetryAttempts;
    if (typeof policy !== 'object' || policy === null) throw validation('Target.RetryPolicy must be an object.');
    if (age !== undefined && (!Number.isInteger(age) || (age as number) < 60 || (age as number) > 86_400)) {
      throw validation('RetryPolicy.MaximumEventAgeInSeconds must be an integer from 60 to 86400.');
    }
    if (attempts !== undefined && (!Number.isInteger(attempts) || (attempts as number) < 0 || (attempts as number) > 185)) {
      throw validation('RetryPolicy.MaximumRetryAttempts must be an integer from 0 to 185.');
    }
  }
  if (target.DeadLetterConfig !== undefined) {
    const dlq = target.DeadLetterConfig as Json | null;
    if (typeof dlq !== 'object' || dlq === null || (dlq.Arn !== undefined && typeof dlq.Arn !== 'string')) {
      throw validation('Target.DeadLetterConfig must be an object with an Arn.');
    }
  }
  return target;
}

function describeSchedule(schedule: StoredSchedule): Json {
  return {
    Arn: scheduleArn(schedule.GroupName, schedule.Name),
    GroupName: schedule.GroupName,
    Name: schedule.Name,
    ScheduleExpression: schedule.ScheduleExpression,
    ...(schedule.StartDate !== undefined ? { StartDate: epochSeconds(schedule.StartDate) } : {}),
    ...(schedule.EndDate !== undefined ? { EndDate: epochSeconds(schedule.EndDate) } : {}),
    ...(schedule.Description !== undefined ? { Description: schedule.Description } : {}),
    ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
    State: schedule.State,
    CreationDate: epochSeconds(schedule.CreationDate),
    LastModificationDate: epochSeconds(schedule.LastModificationDate),
    ...(schedule.KmsKeyArn !== undefined ? { KmsKeyArn: schedule.KmsKeyArn } : {}),
    Target: schedule.Target,
    FlexibleTimeWindow: schedule.FlexibleTimeWindow,
    ActionAfterCompletion: schedule.ActionAfterCompletion,
  };
}

function describeGroup(group: StoredGroup): Json {
  return {
    Arn: groupArn(group.Name),
    Name: group.Name,
    State: 'ACTIVE',
    CreationDate: epochSeconds(group.CreationDate),
    LastModificationDate: epochSeconds(group.LastModificationDate),
  };
}

/** Pages sorted by key; NextToken carries the last key returned. */
function paginate<T extends { key: string }>(items: T[], query: URLSearchParams): { page: T[]; nextToken?: string } {
  const maxText = query.get('MaxResults');
  let max = 100;
  if (maxText !== null) {
    max = Number(maxText);
    if (!Number.isInteger(max) || max < 1 || max > 100) throw validation('MaxResults must be an integer from 1 to 100.');
  }
  const token = query.get('NextToken');
  let after: string | undefined;
  if (token !== null) {
    try {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
      if (typeof parsed.after !== 'string') throw new Error('no key');
      after = parsed.after;
    } catch {
      throw validation('The NextToken is invalid.');
    }
  }
  const sorted = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const remaining = after === undefined ? sorted : sorted.filter((item) => item.key > after);
  const page = remaining.slice(0, max);
  const last = page[page.length - 1];
  return remaining.length > page.length && last
    ? { page, nextToken: Buffer.from(JSON.stringify({ after: last.key })).toString('base64url') }
    : { page };
}

function missing(field: string): SchedulerError {
  return validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
}

function checkName(name: string, field: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw validation(`Value '${name}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$ and have length 1-64`);
  }
}

function groupNameFrom(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_GROUP;
  if (typeof value !== 'string') throw validation('GroupName must be a string.');
  checkName(value, 'groupName');
  return value;
}

function optionalString(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`Value at '${field}' must be a string.`);
  if (value.length > maxLength) throw validation(`Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${maxLength}`);
  return value;
}

/** A timestamp on the wire: epoch seconds (what the SDK sends), or an ISO 8601 string. */
function optionalTimestamp(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value * 1000 : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw validation(`Value at '${field}' is not a valid timestamp.`);
  return Math.round(ms);
}

function parseTags(value: unknown): Array<{ Key: string; Value: string }> {
  if (!Array.isArray(value)) throw validation('Tags must be a list.');
  return value.map((tag: unknown) => {
    const { Key: key, Value: tagValue } = (tag ?? {}) as Json;
    if (typeof key !== 'string' || typeof tagValue !== 'string') throw validation('Each tag needs a string Key and Value.');
    return { Key: key, Value: tagValue };
  });
}

async function loadState(file: string): Promise<z.infer<typeof storedFileSchema> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; move it away to start with no schedules`);
  }
  const parsed = storedFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a local Scheduler state file`);
  return parsed.data;
}

async function writeAtomically(file: string, contents: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, contents, { mode: 0o600 });
  await rename(temporary, file);
}
