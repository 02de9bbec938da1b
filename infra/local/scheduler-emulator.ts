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
import * as z from 'zod';
import { isValidTimeZone, nextOccurrence, parseScheduleExpression, validateScheduleExpression, type ParsedExpression } from '../../shared/scheduling/schedule-expression.js';
import { readBodyUpTo } from './request-body.js';

export { isValidTimeZone, nextFireTime, validateScheduleExpression } from '../../shared/scheduling/schedule-expression.js';

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
