import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException as SecretNotFoundException,
  SecretsManagerClient,
  UpdateSecretCommand,
  paginateListSecrets,
} from '@aws-sdk/client-secrets-manager';
import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  ResourceNotFoundException as ScheduleNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
  paginateListSchedules,
} from '@aws-sdk/client-scheduler';
import type { CreateScheduleCommandInput } from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startLocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import type { LocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import { startLocalScheduler } from '../../infra/local/scheduler-emulator.js';
import type { LocalScheduler, ScheduleInvocation } from '../../infra/local/scheduler-emulator.js';

const clientConfig = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  maxAttempts: 1,
});

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'roster-emulators-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('local Secrets Manager', () => {
  let emulator: LocalSecretsManager;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    emulator = await startLocalSecretsManager({ port: 0 });
    client = new SecretsManagerClient(clientConfig(emulator.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await emulator.close();
  });

  it('creates, reads, rotates, describes and deletes a secret', async () => {
    const created = await client.send(
      new CreateSecretCommand({
        Name: 'roster/tenant-a/postgres',
        SecretString: '{"password":"first"}',
        Description: 'tenant a database',
        Tags: [{ Key: 'tenant', Value: 'tenant-a' }],
        KmsKeyId: 'alias/ignored',
      }),
    );
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:roster\/tenant-a\/postgres-[A-Za-z0-9]{6}$/);
    expect(created.Name).toBe('roster/tenant-a/postgres');
    expect(created.VersionId).toBeTypeOf('string');

    const byName = await client.send(new GetSecretValueCommand({ SecretId: 'roster/tenant-a/postgres' }));
    expect(byName).toMatchObject({ ARN: created.ARN, Name: created.Name, VersionId: created.VersionId, SecretString: '{"password":"first"}' });
    expect(byName.VersionStages).toEqual(['AWSCURRENT']);
    expect(byName.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs((byName.CreatedDate?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);

    const byArn = await client.send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(byArn.SecretString).toBe('{"password":"first"}');

    const put = await client.send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: '{"password":"second"}' }));
    expect(put.VersionId).not.toBe(created.VersionId);
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect((await client.send(new GetSecretValueCommand({ SecretId: created.Name }))).SecretString).toBe('{"password":"second"}');
    const previous = await client.send(new GetSecretValueCommand({ SecretId: created.Name, VersionStage: 'AWSPREVIOUS' }));
    expect(previous).toMatchObject({ VersionId: created.VersionId, SecretString: '{"password":"first"}' });

    const updated = await client.send(new UpdateSecretCommand({ SecretId: created.Name, Description: 'renamed', SecretString: 'third' }));
    expect(updated.VersionId).toBeTypeOf('string');
    expect((await client.send(new GetSecretValueCommand({ SecretId: created.Name }))).SecretString).toBe('third');

    const described = await client.send(new DescribeSecretCommand({ SecretId: created.Name }));
    expect(described).toMatchObject({ ARN: created.ARN, Name: created.Name, Description: 'renamed', Tags: [{ Key: 'tenant', Value: 'tenant-a' }] });
    expect(described.VersionIdsToStages?.[updated.VersionId ?? '']).toEqual(['AWSCURRENT']);
    expect(described.VersionIdsToStages?.[put.VersionId ?? '']).toEqual(['AWSPREVIOUS']);
    expect(described.CreatedDate).toBeInstanceOf(Date);
    expect(JSON.stringify(described)).not.toContain('third');

    const deleted = await client.send(new DeleteSecretCommand({ SecretId: created.Name, ForceDeleteWithoutRecovery: true }));
    expect(deleted).toMatchObject({ ARN: created.ARN, Name: created.Name });
    expect(deleted.DeletionDate).toBeInstanceOf(Date);
    await expect(client.send(new GetSecretValueCommand({ SecretId: created.Name }))).rejects.toBeInstanceOf(SecretNotFoundException);

    // Deletion is immediate: the name can be used again at once, also with a recovery window asked for.
    const again = await client.send(new CreateSecretCommand({ Name: created.Name, SecretString: 'new' }));
    expect(again.ARN).not.toBe(created.ARN);
    await client.send(new DeleteSecretCommand({ SecretId: again.ARN, RecoveryWindowInDays: 7 }));
    await expect(client.send(new DescribeSecretCommand({ SecretId: again.ARN }))).rejects.toBeInstanceOf(SecretNotFoundException);
  });

  it('answers the typed exceptions of the SDK', async () => {
    const missing = await client.send(new GetSecretValueCommand({ SecretId: 'does/not/exist' })).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(SecretNotFoundException);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
    expect((missing as SecretNotFoundException).$metadata.httpStatusCode).toBe(400);

    await client.send(new CreateSecretCommand({ Name: 'dup', SecretString: 'x' }));
    const duplicate = await client.send(new CreateSecretCommand({ Name: 'dup', SecretString: 'y' })).catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(ResourceExistsException);
    expect((duplicate as Error).message).toMatch(/already exists/);

    await expect(client.send(new PutSecretValueCommand({ SecretId: 'dup' }))).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(client.send(new DeleteSecretCommand({ SecretId: 'nope', ForceDeleteWithoutRecovery: true }))).rejects.toBeInstanceOf(
      SecretNotFoundException,
    );
    await expect(
      client.send(new DeleteSecretCommand({ SecretId: 'dup', ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const response = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.RotateEverything' },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('lists secrets by name prefix, page by page', async () => {
    for (const name of ['list/t1/a', 'list/t1/b', 'list/t1/c', 'list/t2/a']) {
      await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));
    }
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateListSecrets({ client, pageSize: 2 }, { Filters: [{ Key: 'name', Values: ['list/t1/'] }] })) {
      pages += 1;
      for (const entry of page.SecretList ?? []) names.push(entry.Name ?? '');
      expect(JSON.stringify(page)).not.toContain('SecretString');
    }
    expect(names.sort()).toEqual(['list/t1/a', 'list/t1/b', 'list/t1/c']);
    expect(pages).toBe(2);
  });

  it('keeps secrets across a restart with the same persist file', async () => {
    const directory = await mkdtemp(join(scratch, 'secrets-'));
    const persistFile = join(directory, 'state', 'secrets.json');
    const first = await startLocalSecretsManager({ port: 0, persistFile });
    const firstClient = new SecretsManagerClient(clientConfig(first.endpoint));
    const created = await firstClient.send(new CreateSecretCommand({ Name: 'kept', SecretString: 's3cr3t-value' }));
    await firstClient.send(new CreateSecretCommand({ Name: 'dropped', SecretString: 'gone' }));
    await firstClient.send(new DeleteSecretCommand({ SecretId: 'dropped', ForceDeleteWithoutRecovery: true }));
    firstClient.destroy();
    await first.close();

    // Written by rename: no temporary file is left behind.
    expect(await readdir(join(directory, 'state'))).toEqual(['secrets.json']);

    const second = await startLocalSecretsManager({ port: 0, persistFile });
    const secondClient = new SecretsManagerClient(clientConfig(second.endpoint));
    try {
      const read = await secondClient.send(new GetSecretValueCommand({ SecretId: 'kept' }));
      expect(read).toMatchObject({ ARN: created.ARN, VersionId: created.VersionId, SecretString: 's3cr3t-value' });
      await expect(secondClient.send(new GetSecretValueCommand({ SecretId: 'dropped' }))).rejects.toBeInstanceOf(SecretNotFoundException);
    } finally {
      secondClient.destroy();
      await second.close();
    }
  });
});

const target = { Arn: 'arn:aws:lambda:us-east-1:000000000000:function:roster-postgres-sync', RoleArn: 'arn:aws:iam::000000000000:role/scheduler' };

function scheduleInput(name: string, overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput {
  return {
    Name: name,
    ScheduleExpression: 'cron(0 0 * * ? *)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { ...target, Input: JSON.stringify({ tenantId: 'tenant-a', kind: 'postgres' }) },
    ...overrides,
  };
}

describe('local EventBridge Scheduler API', () => {
  let clock: Date;
  let emulator: LocalScheduler;
  let client: SchedulerClient;

  beforeAll(async () => {
    clock = new Date('2030-01-01T10:00:00Z');
    emulator = await startLocalScheduler({ port: 0, tickIntervalMs: 0, now: () => clock, invoke: async () => undefined });
    client = new SchedulerClient(clientConfig(emulator.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await emulator.close();
  });

  it('creates, reads, updates and deletes a schedule', async () => {
    const created = await client.send(new CreateScheduleCommand(scheduleInput('crud-one', { Description: 'nightly sync' })));
    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/default/crud-one');

    const read = await client.send(new GetScheduleCommand({ Name: 'crud-one' }));
    expect(read).toMatchObject({
      Arn: created.ScheduleArn,
      Name: 'crud-one',
      GroupName: 'default',
      ScheduleExpression: 'cron(0 0 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Description: 'nightly sync',
      ActionAfterCompletion: 'NONE',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { ...target, Input: '{"tenantId":"tenant-a","kind":"postgres"}' },
    });
    expect(read.CreationDate).toEqual(clock);
    expect(read.LastModificationDate).toEqual(clock);

    const updatedAt = new Date('2030-01-01T11:00:00Z');
    clock = updatedAt;
    await client.send(
      new UpdateScheduleCommand({
        Name: 'crud-one',
        ScheduleExpression: 'rate(6 hours)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        State: 'DISABLED',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: target,
        StartDate: new Date('2030-02-01T00:00:00Z'),
      }),
    );
    const afterUpdate = await client.send(new GetScheduleCommand({ Name: 'crud-one', GroupName: 'default' }));
    expect(afterUpdate).toMatchObject({
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'DISABLED',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
    });
    // UpdateSchedule replaces the definition: the description and input not sent are gone.
    expect(afterUpdate.Description).toBeUndefined();
    expect(afterUpdate.Target?.Input).toBeUndefined();
    expect(afterUpdate.StartDate).toEqual(new Date('2030-02-01T00:00:00Z'));
    expect(afterUpdate.CreationDate).toEqual(new Date('2030-01-01T10:00:00Z'));
    expect(afterUpdate.LastModificationDate).toEqual(updatedAt);

    await client.send(new DeleteScheduleCommand({ Name: 'crud-one' }));
    await expect(client.send(new GetScheduleCommand({ Name: 'crud-one' }))).rejects.toBeInstanceOf(ScheduleNotFoundException);
  });

  it('answers ConflictException, ResourceNotFoundException and ValidationException', async () => {
    await client.send(new CreateScheduleCommand(scheduleInput('errors-one')));
    const duplicate = await client.send(new CreateScheduleCommand(scheduleInput('errors-one'))).catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(ConflictException);
    expect((duplicate as ConflictException).$metadata.httpStatusCode).toBe(409);

    const missing = await client.send(new GetScheduleCommand({ Name: 'errors-none' })).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ScheduleNotFoundException);
    expect((missing as ScheduleNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((missing as Error).message).toBe('Schedule errors-none does not exist.');
    await expect(client.send(new UpdateScheduleCommand(scheduleInput('errors-none')))).rejects.toBeInstanceOf(ScheduleNotFoundException);
    await expect(client.send(new DeleteScheduleCommand({ Name: 'errors-none' }))).rejects.toBeInstanceOf(ScheduleNotFoundException);
    // A schedule is looked up in its group only.
    await expect(client.send(new GetScheduleCommand({ Name: 'errors-one', GroupName: 'other' }))).rejects.toBeInstanceOf(
      ScheduleNotFoundException,
    );

    const badCron = await client
      .send(new CreateScheduleCommand(scheduleInput('errors-two', { ScheduleExpression: 'cron(0 0 * * * *)' })))
      .catch((error: unknown) => error);
    expect(badCron).toBeInstanceOf(ValidationException);
    expect((badCron as ValidationException).$metadata.httpStatusCode).toBe(400);
    expect((badCron as Error).message).toMatch(/one of day-of-month and day-of-week must be \?/);

    await expect(
      client.send(new CreateScheduleCommand(scheduleInput('errors-two', { ScheduleExpression: 'rate(5 minute)' }))),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(new CreateScheduleCommand(scheduleInput('errors-two', { ScheduleExpressionTimezone: 'Nowhere/Special' }))),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(new CreateScheduleCommand({ ...scheduleInput('errors-two'), FlexibleTimeWindow: undefined } as unknown as CreateScheduleCommandInput)),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(client.send(new CreateScheduleCommand(scheduleInput('bad name!')))).rejects.toBeInstanceOf(ValidationException);
    // A group that does not exist is a missing resource, as the service answers.
    await expect(client.send(new CreateScheduleCommand(scheduleInput('errors-two', { GroupName: 'no-such-group' })))).rejects.toBeInstanceOf(
      ScheduleNotFoundException,
    );
    await expect(client.send(new GetScheduleCommand({ Name: 'errors-two' }))).rejects.toBeInstanceOf(ScheduleNotFoundException);
  });

  it('manages schedule groups; deleting one deletes its schedules', async () => {
    const created = await client.send(new CreateScheduleGroupCommand({ Name: 'tenant-b' }));
    expect(created.ScheduleGroupArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule-group/tenant-b');
    await expect(client.send(new CreateScheduleGroupCommand({ Name: 'tenant-b' }))).rejects.toBeInstanceOf(ConflictException);

    const group = await client.send(new GetScheduleGroupCommand({ Name: 'tenant-b' }));
    expect(group).toMatchObject({ Arn: created.ScheduleGroupArn, Name: 'tenant-b', State: 'ACTIVE' });
    expect(group.CreationDate).toBeInstanceOf(Date);
    expect((await client.send(new GetScheduleGroupCommand({ Name: 'default' }))).Name).toBe('default');

    const groups = await client.send(new ListScheduleGroupsCommand({}));
    expect(groups.ScheduleGroups?.map((entry) => entry.Name)).toEqual(expect.arrayContaining(['default', 'tenant-b']));
    const prefixed = await client.send(new ListScheduleGroupsCommand({ NamePrefix: 'tenant-' }));
    expect(prefixed.ScheduleGroups?.map((entry) => entry.Name)).toEqual(['tenant-b']);

    const inGroup = await client.send(new CreateScheduleCommand(scheduleInput('in-group', { GroupName: 'tenant-b' })));
    expect(inGroup.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/tenant-b/in-group');
    expect((await client.send(new GetScheduleCommand({ Name: 'in-group', GroupName: 'tenant-b' }))).GroupName).toBe('tenant-b');

    await client.send(new DeleteScheduleGroupCommand({ Name: 'tenant-b' }));
    await expect(client.send(new GetScheduleGroupCommand({ Name: 'tenant-b' }))).rejects.toBeInstanceOf(ScheduleNotFoundException);
    await expect(client.send(new GetScheduleCommand({ Name: 'in-group', GroupName: 'tenant-b' }))).rejects.toBeInstanceOf(
      ScheduleNotFoundException,
    );
    await expect(client.send(new DeleteScheduleGroupCommand({ Name: 'default' }))).rejects.toBeInstanceOf(ValidationException);
  });

  it('lists schedules by group, name prefix and state, page by page', async () => {
    await client.send(new CreateScheduleGroupCommand({ Name: 'listing' }));
    for (const name of ['sync-a-postgres', 'sync-a-salesforce', 'sync-b-postgres']) {
      await client.send(new CreateScheduleCommand(scheduleInput(name, { GroupName: 'listing' })));
    }
    await client.send(new CreateScheduleCommand(scheduleInput('sync-a-other-group')));
    await client.send(new CreateScheduleCommand(scheduleInput('sync-a-disabled', { GroupName: 'listing', State: 'DISABLED' })));

    const byPrefix = await client.send(new ListSchedulesCommand({ GroupName: 'listing', NamePrefix: 'sync-a-' }));
    expect(byPrefix.Schedules?.map((entry) => entry.Name)).toEqual(['sync-a-disabled', 'sync-a-postgres', 'sync-a-salesforce']);
    expect(byPrefix.Schedules?.[1]).toMatchObject({
      Arn: 'arn:aws:scheduler:us-east-1:000000000000:schedule/listing/sync-a-postgres',
      GroupName: 'listing',
      State: 'ENABLED',
      Target: { Arn: target.Arn },
    });
    expect(byPrefix.Schedules?.[1]?.CreationDate).toBeInstanceOf(Date);

    const enabled = await client.send(new ListSchedulesCommand({ GroupName: 'listing', State: 'ENABLED' }));
    expect(enabled.Schedules?.map((entry) => entry.Name)).toEqual(['sync-a-postgres', 'sync-a-salesforce', 'sync-b-postgres']);

    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateListSchedules({ client, pageSize: 2 }, { GroupName: 'listing' })) {
      pages += 1;
      names.push(...(page.Schedules ?? []).map((entry) => entry.Name ?? ''));
    }
    expect(names).toEqual(['sync-a-disabled', 'sync-a-postgres', 'sync-a-salesforce', 'sync-b-postgres']);
    expect(pages).toBe(2);

    const everywhere = await client.send(new ListSchedulesCommand({ NamePrefix: 'sync-a-other' }));
    expect(everywhere.Schedules?.map((entry) => `${entry.GroupName}/${entry.Name}`)).toEqual(['default/sync-a-other-group']);
  });
});

describe('local EventBridge Scheduler firing', () => {
  let clock: Date;
  let invoke: ReturnType<typeof vi.fn<(target: ScheduleInvocation) => Promise<void>>>;
  let emulator: LocalScheduler;
  let client: SchedulerClient;
  let persistFile: string;

  const start = async () => {
    emulator = await startLocalScheduler({ port: 0, tickIntervalMs: 0, now: () => clock, invoke, persistFile });
    client = new SchedulerClient(clientConfig(emulator.endpoint));
  };
  const stop = async () => {
    client.destroy();
    await emulator.close();
  };

  beforeEach(async () => {
    clock = new Date('2030-01-01T10:00:00Z');
    invoke = vi.fn<(target: ScheduleInvocation) => Promise<void>>(async () => undefined);
    persistFile = join(await mkdtemp(join(scratch, 'scheduler-')), 'schedules.json');
    await start();
  });
  afterEach(async () => {
    await stop();
  });

  it('fires a due schedule once with its target and input, and a missed span once', async () => {
    await client.send(new CreateScheduleCommand(scheduleInput('nightly')));
    await emulator.tick();
    expect(invoke).not.toHaveBeenCalled();

    clock = new Date('2030-01-01T23:59:59Z');
    await emulator.tick();
    expect(invoke).not.toHaveBeenCalled();

    clock = new Date('2030-01-02T00:00:30Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(invoke).toHaveBeenCalledWith({
      arn: target.Arn,
      input: '{"tenantId":"tenant-a","kind":"postgres"}',
      scheduleName: 'nightly',
      groupName: 'default',
    });

    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);

    // Three midnights pass without a tick: one firing, not three.
    clock = new Date('2030-01-05T12:00:00Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
  });

  it('does not fire a DISABLED schedule', async () => {
    await client.send(new CreateScheduleCommand(scheduleInput('paused', { State: 'DISABLED' })));
    clock = new Date('2030-01-03T00:00:30Z');
    await emulator.tick();
    expect(invoke).not.toHaveBeenCalled();
  });

  it('fires rate() at once and then every period', async () => {
    await client.send(new CreateScheduleCommand(scheduleInput('frequent', { ScheduleExpression: 'rate(5 minutes)' })));
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);
    clock = new Date('2030-01-01T10:04:59Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);
    clock = new Date('2030-01-01T10:05:00Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
  });

  it('evaluates cron in the schedule time zone', async () => {
    // 09:00 in Paris in January is 08:00 UTC.
    await client.send(new CreateScheduleCommand(scheduleInput('paris', { ScheduleExpression: 'cron(0 9 * * ? *)', ScheduleExpressionTimezone: 'Europe/Paris' })));
    clock = new Date('2030-01-02T07:59:59Z');
    await emulator.tick();
    expect(invoke).not.toHaveBeenCalled();
    clock = new Date('2030-01-02T08:00:10Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it('fires at() once and deletes the schedule with ActionAfterCompletion DELETE', async () => {
    await client.send(
      new CreateScheduleCommand(scheduleInput('one-off', { ScheduleExpression: 'at(2030-01-01T12:00:00)', ActionAfterCompletion: 'DELETE' })),
    );
    await client.send(new CreateScheduleCommand(scheduleInput('one-off-kept', { ScheduleExpression: 'at(2030-01-01T12:00:00)' })));
    clock = new Date('2030-01-01T11:59:59Z');
    await emulator.tick();
    expect(invoke).not.toHaveBeenCalled();
    expect((await client.send(new GetScheduleCommand({ Name: 'one-off' }))).ActionAfterCompletion).toBe('DELETE');

    clock = new Date('2030-01-01T12:00:05Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
    expect(invoke.mock.calls.map(([call]) => call.scheduleName).sort()).toEqual(['one-off', 'one-off-kept']);
    await expect(client.send(new GetScheduleCommand({ Name: 'one-off' }))).rejects.toBeInstanceOf(ScheduleNotFoundException);
    expect((await client.send(new GetScheduleCommand({ Name: 'one-off-kept' }))).Name).toBe('one-off-kept');

    clock = new Date('2030-02-01T00:00:00Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
  });

  it('does not fire again after a restart what already fired', async () => {
    await client.send(new CreateScheduleCommand(scheduleInput('durable')));
    clock = new Date('2030-01-02T00:00:30Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);
    await stop();
    expect(JSON.parse(await readFile(persistFile, 'utf8'))).toMatchObject({ schedules: [{ Name: 'durable' }] });

    clock = new Date('2030-01-02T00:05:00Z');
    await start();
    expect((await client.send(new GetScheduleCommand({ Name: 'durable' }))).ScheduleExpression).toBe('cron(0 0 * * ? *)');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(1);

    clock = new Date('2030-01-03T00:00:30Z');
    await emulator.tick();
    expect(invoke).toHaveBeenCalledTimes(2);
  });

  it('logs a failed invocation without its input and does not retry it', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      invoke.mockRejectedValueOnce(new Error('target exploded'));
      await client.send(new CreateScheduleCommand(scheduleInput('failing')));
      clock = new Date('2030-01-02T00:00:30Z');
      await emulator.tick();
      expect(invoke).toHaveBeenCalledTimes(1);
      expect(errors).toHaveBeenCalledTimes(1);
      const logged = String(errors.mock.calls[0]?.[0]);
      expect(logged).toContain('default/failing');
      expect(logged).toContain('target exploded');
      expect(logged).not.toContain('tenant-a');

      clock = new Date('2030-01-02T00:10:00Z');
      await emulator.tick();
      expect(invoke).toHaveBeenCalledTimes(1);
    } finally {
      errors.mockRestore();
    }
  });
});
