import { describe, expect, it } from 'vitest';
import { nextFireTime, validateScheduleExpression } from '../../shared/scheduling/schedule-expression.js';

const utc = (iso: string) => new Date(iso);
const next = (expression: string, after: string, timezone = 'UTC', anchor?: string) =>
  nextFireTime(expression, timezone, utc(after), anchor ? utc(anchor) : undefined)?.toISOString();

describe('validateScheduleExpression', () => {
  it.each([
    'cron(0 0 * * ? *)',
    'cron(15 10 ? * 6L 2030-2040)',
    'cron(0/15 * * * ? *)',
    'cron(1/10 8-17 ? * MON-FRI *)',
    'cron(0 12 L * ? *)',
    'cron(0 12 LW * ? *)',
    'cron(0 12 15W * ? *)',
    'cron(0 9 ? * 3#2 *)',
    'cron(0 9 ? JAN,JUL,DEC SUN *)',
    'cron(30 2 1-15/2 * ? *)',
    'cron(0 0 ? * L *)',
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(30 days)',
    'at(2030-02-28T23:59:59)',
    'at(2032-02-29T00:00:00)',
  ])('accepts %s', (expression) => {
    expect(validateScheduleExpression(expression)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['every day', /at\(.*rate\(.*cron\(/],
    ['cron(0 0 * * *)', /six fields.*got 5/],
    ['cron(0 0 * * * *)', /must be \?/],
    ['cron(0 0 ? * ? *)', /only one of day-of-month and day-of-week/],
    ['cron(60 0 * * ? *)', /minutes 60 is out of range 0-59/],
    ['cron(0 24 * * ? *)', /hours 24 is out of range 0-23/],
    ['cron(0 0 32 * ? *)', /day-of-month 32 is out of range/],
    ['cron(0 0 ? * 8 *)', /day-of-week 8 is out of range 1-7/],
    ['cron(0 0 * FOO ? *)', /FOO is not a valid month/],
    ['cron(0 0 * * ? 1969)', /year 1969 is out of range 1970-2199/],
    ['cron(0 ? * * ? *)', /\? is only allowed in day-of-month or day-of-week/],
    ['cron(0 0 ? * MON/2 *)', /day-of-week does not accept \//],
    ['cron(0 0 ? * 3#1,6#3 *)', /# takes one weekday/],
    ['cron(0 0 ? * 2#6 *)', /# takes one weekday and an occurrence 1-5/],
    ['cron(0 0 1,L * ? *)', /L and W stand alone/],
    ['cron(30-10 0 * * ? *)', /range 30-10 runs backwards/],
    ['cron(0/0 0 * * ? *)', /increment must be a whole number of 1 or more/],
    ['rate(0 minutes)', /1 or more/],
    ['rate(1 minutes)', /must be singular/],
    ['rate(5 minute)', /must be plural/],
    ['rate(5 weeks)', /unit weeks is not one of/],
    ['rate(-5 minutes)', /not a positive whole number/],
    ['rate(1.5 hours)', /not a positive whole number/],
    ['at(2030-02-30T10:00:00)', /2030-02-30 is not a date/],
    ['at(2030-13-01T10:00:00)', /month 13/],
    ['at(2030-01-01T24:00:00)', /not a time of day/],
    ['at(2030-01-01 10:00:00)', /yyyy-mm-ddThh:mm:ss/],
  ])('rejects %j with a reason', (expression, reason) => {
    const result = validateScheduleExpression(expression);
    expect(result).toBeTypeOf('string');
    expect(result).toMatch(reason);
  });
});

describe('nextFireTime', () => {
  it('fires cron(0 0 * * ? *) at the next midnight UTC', () => {
    expect(next('cron(0 0 * * ? *)', '2030-03-10T15:20:00Z')).toBe('2030-03-11T00:00:00.000Z');
    // strictly after: from midnight itself, the following midnight
    expect(next('cron(0 0 * * ? *)', '2030-03-11T00:00:00Z')).toBe('2030-03-12T00:00:00.000Z');
    expect(next('cron(0 0 * * ? *)', '2030-12-31T23:59:59.999Z')).toBe('2031-01-01T00:00:00.000Z');
  });

  it('evaluates cron in the schedule time zone, following daylight saving time', () => {
    // 09:00 in Paris is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    expect(next('cron(0 9 * * ? *)', '2030-01-15T12:00:00Z', 'Europe/Paris')).toBe('2030-01-16T08:00:00.000Z');
    expect(next('cron(0 9 * * ? *)', '2030-07-15T12:00:00Z', 'Europe/Paris')).toBe('2030-07-16T07:00:00.000Z');
    // Midnight in Tokyo (UTC+9, no DST) is 15:00 UTC the day before.
    expect(next('cron(0 0 * * ? *)', '2030-05-01T00:00:00Z', 'Asia/Tokyo')).toBe('2030-05-01T15:00:00.000Z');
  });

  it('skips a local time that daylight saving time skips, and fires a repeated one once', () => {
    // New York springs forward on 2030-03-10: 02:30 does not exist that day.
    expect(next('cron(30 2 * * ? *)', '2030-03-09T12:00:00Z', 'America/New_York')).toBe('2030-03-11T06:30:00.000Z');
    // and falls back on 2030-11-03: 01:30 happens twice (EDT, then EST); it fires at the first only.
    const first = next('cron(30 1 * * ? *)', '2030-11-02T12:00:00Z', 'America/New_York');
    expect(first).toBe('2030-11-03T05:30:00.000Z');
    expect(next('cron(30 1 * * ? *)', first ?? '', 'America/New_York')).toBe('2030-11-04T06:30:00.000Z');
  });

  it('supports steps, ranges, names and the L, W and # wildcards', () => {
    expect(next('cron(0/15 * * * ? *)', '2030-01-01T10:07:00Z')).toBe('2030-01-01T10:15:00.000Z');
    expect(next('cron(1/10 * * * ? *)', '2030-01-01T10:07:00Z')).toBe('2030-01-01T10:11:00.000Z');
    // 2030-01-05 is a Saturday: the next weekday is Monday the 7th.
    expect(next('cron(0 8 ? * MON-FRI *)', '2030-01-05T09:00:00Z')).toBe('2030-01-07T08:00:00.000Z');
    expect(next('cron(0 12 L * ? *)', '2030-02-10T00:00:00Z')).toBe('2030-02-28T12:00:00.000Z');
    // 2030-08-31 is a Saturday, so the last weekday of August is Friday the 30th.
    expect(next('cron(0 12 LW * ? *)', '2030-08-01T00:00:00Z')).toBe('2030-08-30T12:00:00.000Z');
    // 2030-06-15 is a Saturday: 15W is Friday the 14th.
    expect(next('cron(0 0 15W * ? *)', '2030-06-01T00:00:00Z')).toBe('2030-06-14T00:00:00.000Z');
    // Third Friday (6#3) and last Friday (6L) of January 2030.
    expect(next('cron(0 0 ? * 6#3 *)', '2030-01-01T00:00:00Z')).toBe('2030-01-18T00:00:00.000Z');
    expect(next('cron(0 0 ? * 6L *)', '2030-01-01T00:00:00Z')).toBe('2030-01-25T00:00:00.000Z');
    expect(next('cron(0 0 1 JAN,JUL ? *)', '2030-01-02T00:00:00Z')).toBe('2030-07-01T00:00:00.000Z');
  });

  it('honours the year field and ends when no year is left', () => {
    expect(next('cron(0 0 1 1 ? 2031)', '2030-06-01T00:00:00Z')).toBe('2031-01-01T00:00:00.000Z');
    expect(next('cron(0 0 1 1 ? 2029)', '2030-06-01T00:00:00Z')).toBeUndefined();
    expect(next('cron(0 0 30 2 ? *)', '2030-01-01T00:00:00Z')).toBeUndefined();
  });

  it('counts rate() in fixed durations from the anchor', () => {
    expect(next('rate(5 minutes)', '2030-01-01T10:07:00Z', 'UTC', '2030-01-01T10:01:00Z')).toBe('2030-01-01T10:11:00.000Z');
    expect(next('rate(5 minutes)', '2030-01-01T09:00:00Z', 'UTC', '2030-01-01T10:01:00Z')).toBe('2030-01-01T10:01:00.000Z');
    // Without an anchor, the epoch: rate(1 hour) fires on the hour.
    expect(next('rate(1 hour)', '2030-01-01T10:07:00Z')).toBe('2030-01-01T11:00:00.000Z');
    // A day is 24 hours, even across a daylight-saving change.
    expect(next('rate(1 day)', '2030-03-09T12:00:00Z', 'America/New_York', '2030-03-09T12:00:00Z')).toBe('2030-03-10T12:00:00.000Z');
  });

  it('fires at() once, at its local time in the time zone', () => {
    expect(next('at(2030-01-01T10:00:00)', '2029-12-31T00:00:00Z', 'Asia/Tokyo')).toBe('2030-01-01T01:00:00.000Z');
    expect(next('at(2030-01-01T10:00:00)', '2030-01-01T01:00:00Z', 'Asia/Tokyo')).toBeUndefined();
    expect(next('at(2030-01-01T10:00:00)', '2029-12-31T00:00:00Z')).toBe('2030-01-01T10:00:00.000Z');
  });

  it('throws a RangeError for an invalid expression or time zone', () => {
    expect(() => nextFireTime('cron(0 0 * * *)', 'UTC', new Date())).toThrow(RangeError);
    expect(() => nextFireTime('cron(0 0 * * ? *)', 'Mars/Olympus_Mons', new Date())).toThrow(/Invalid time zone/);
  });
});
