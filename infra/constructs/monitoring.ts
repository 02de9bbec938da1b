import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, metricNames } from '../../shared/observability/metrics.js';
import type { RosterFunction } from './roster-function.js';

export interface MonitoringProps {
  functions: RosterFunction[];
  /** Every dead-letter queue: a message in one means work was dropped after its retries. */
  deadLetterQueues: Array<{ name: string; queue: sqs.IQueue }>;
  httpApi: apigw.HttpApi;
  /** Integrations whose failed runs alarm (their sync function's service name and the integration). */
  syncs: Array<{ integration: 'postgres' | 'salesforce'; fn: RosterFunction }>;
  /** An SNS topic (ARN) every alarm notifies, on alarm and on recovery. Without one the alarms only show in the console. */
  alarmTopicArn?: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * What tells an operator that something broke: alarms on function errors and throttles,
 * dead-letter queue depth, failed sync runs and API 5xx, wired to the alarm topic, and one
 * dashboard with the API, the functions, the rows moved and the runs.
 */
export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  readonly topic: sns.ITopic | undefined;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = props.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;

    for (const fn of props.functions) {
      this.alarm(`${fn.node.id}Errors`, fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), 1, `functions/${fn.functionDirName} threw (after its own retries); see its log group`);
      this.alarm(`${fn.node.id}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }), 1, `functions/${fn.functionDirName} was throttled (reserved or account concurrency exhausted)`);
    }
    for (const { name, queue } of props.deadLetterQueues) {
      this.alarm(`${name}Depth`, queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }), 1, `${name}: events were dropped after their retries; inspect and redrive by hand`);
    }
    for (const { integration, fn } of props.syncs) {
      this.alarm(`${capitalised(integration)}FailedRuns`, this.syncMetric(fn, integration, metricNames.syncRunsFailed, 'Sum', false), 1, `a ${integration} sync run failed; GET /integrations/${integration}/runs of the tenant in the log says why`);
    }
    this.alarm('ApiServerErrors', props.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), 5, 'the HTTP API answered 5xx at least 5 times in 5 minutes');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [props.httpApi.metricCount({ period: FIVE_MINUTES }), props.httpApi.metricClientError({ period: FIVE_MINUTES }), props.httpApi.metricServerError({ period: FIVE_MINUTES })],
        right: [props.httpApi.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Rows imported and refused',
        left: (['csv', 'postgres', 'salesforce'] as const).flatMap((source) => [
          this.sourceMetric(source, metricNames.rowsImported, this.serviceOf(source, props)),
          this.sourceMetric(source, metricNames.rowsFailed, this.serviceOf(source, props)),
        ]),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Function errors', left: props.functions.map((fn) => fn.metricErrors({ period: FIVE_MINUTES, label: fn.functionDirName })), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Function duration p99', left: props.functions.map((fn) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99', label: fn.functionDirName })), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Throttles', left: props.functions.map((fn) => fn.metricThrottles({ period: FIVE_MINUTES, label: fn.functionDirName })), width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Sync runs',
        left: props.syncs.flatMap(({ integration, fn }) => [this.syncMetric(fn, integration, metricNames.syncRunsSucceeded, 'Sum'), this.syncMetric(fn, integration, metricNames.syncRunsFailed, 'Sum')]),
        right: props.syncs.map(({ integration, fn }) => this.syncMetric(fn, integration, metricNames.syncRunDuration, 'Maximum')),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues',
        left: props.deadLetterQueues.map(({ name, queue }) => queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: name })),
        width: 12,
      }),
    );
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data means nothing happened (no invocations, no runs): not an alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (this.topic) {
      alarm.addAlarmAction(new SnsAction(this.topic));
      alarm.addOkAction(new SnsAction(this.topic));
    }
    this.alarms.push(alarm);
  }

  /** A metric the sync function writes (EMF): dimensions `service` (the function) and `integration`. */
  private syncMetric(fn: RosterFunction, integration: string, metricName: string, statistic: string, labelled = true): cloudwatch.Metric {
    // A labelled metric renders as metric math in an alarm; alarms get the plain metric.
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: `roster-${fn.functionDirName}`, integration },
      statistic,
      period: FIVE_MINUTES,
      ...(labelled ? { label: `${integration} ${metricName}` } : {}),
    });
  }

  private sourceMetric(source: string, metricName: string, service: string): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service, source }, statistic: 'Sum', period: FIVE_MINUTES, label: `${source} ${metricName}` });
  }

  private serviceOf(source: 'csv' | 'postgres' | 'salesforce', props: MonitoringProps): string {
    const name = source === 'csv' ? 'csv-import' : (props.syncs.find((sync) => sync.integration === source)?.fn.functionDirName ?? `${source}-sync`);
    return `roster-${name}`;
  }
}

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
