import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { SYNC_FLEXIBLE_WINDOW_MINUTES, type SyncScheduler, type SyncScheduleSpec } from './sync-scheduler.js';

export interface EventBridgeSchedulerTarget {
  groupName: string;
  /** The sync function the schedule invokes, and the role it assumes to do so (allowed that function only). */
  functionArn: string;
  roleArn: string;
  /** Where invocations go that still fail after the retries. */
  deadLetterArn?: string;
}

const isNamed = (error: unknown, type: { name: string }, name: string) => error instanceof (type as never) || (error as Error).name === name;

/**
 * `SyncScheduler` on EventBridge Scheduler: expressions in UTC, a flexible window, retries
 * (3 attempts within an hour) and a dead-letter queue.
 */
export class EventBridgeSyncScheduler implements SyncScheduler {
  constructor(
    private readonly client: SchedulerClient,
    private readonly target: EventBridgeSchedulerTarget,
  ) {}

  async put(name: string, spec: SyncScheduleSpec): Promise<void> {
    const input: CreateScheduleCommandInput = {
      Name: name,
      GroupName: this.target.groupName,
      ScheduleExpression: spec.expression,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: SYNC_FLEXIBLE_WINDOW_MINUTES },
      State: 'ENABLED',
      Description: 'Roster sync',
      Target: {
        Arn: spec.targetArn ?? this.target.functionArn,
        RoleArn: this.target.roleArn,
        Input: JSON.stringify(spec.input),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        ...(this.target.deadLetterArn ? { DeadLetterConfig: { Arn: this.target.deadLetterArn } } : {}),
      },
    };
    try {
      await this.client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (!isNamed(error, ConflictException, 'ConflictException')) throw error;
      await this.client.send(new UpdateScheduleCommand(input));
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.target.groupName }));
    } catch (error) {
      if (!isNamed(error, ResourceNotFoundException, 'ResourceNotFoundException')) throw error;
    }
  }
}
