import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

/**
 * What the per-tenant sync schedules need: a schedule group of this stack (the API creates
 * and deletes schedules in it), the role the schedules assume to invoke a sync function, and
 * a dead-letter queue for invocations the scheduler gives up on.
 */
export class SyncScheduling extends Construct {
  readonly group: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes; `allowInvoke` lets it invoke one function. */
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);

    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      scheduleGroupName: `${stack.stackName}-syncs`,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'InvokeRole', {
      description: 'Assumed by EventBridge Scheduler to start Roster syncs',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: {
          'aws:SourceArn': stack.formatArn({
            service: 'scheduler',
            resource: 'schedule',
            resourceName: `${this.group.scheduleGroupName}/*`,
          }),
        },
      }),
    });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deadLetterQueue.grantSendMessages(this.role);
    acknowledge(this.deadLetterQueue, 'AwsSolutions::AwsSolutions-SQS3', 'This queue is itself the dead-letter queue of the schedules; a DLQ of a DLQ would only move the problem.');
    acknowledge(this.deadLetterQueue, 'Serverless::Serverless-SQSRedrivePolicy', 'This queue is itself a dead-letter queue; nothing consumes it automatically, so there is nothing to redrive from it.');
  }

  get scheduleGroupName(): string {
    return this.group.scheduleGroupName;
  }

  /** Lets the schedules' role invoke `fn` (and only it). */
  allowInvoke(fn: lambda.IFunction): iam.Grant {
    return fn.grantInvoke(this.role);
  }
}
