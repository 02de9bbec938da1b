import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { RosterStack } from './roster-stack.js';

/**
 * The CDK app (`cdk.json` runs it with tsx). Context:
 *   stackName      the CloudFormation stack name (default `Roster`)
 *   stage          a stage label, tagged on every resource
 *   corsOrigins    comma-separated origins allowed by CORS (default `*`)
 *   alarmTopicArn  an SNS topic for alarms (optional)
 *   staticEgress   `true`: syncs connect from one Elastic IP (a VPC with a NAT gateway) tenants can allowlist
 *   salesforceAppSecretName    the secret of Roster's Salesforce connected app (default `roster/platform/salesforce-app`)
 *   salesforceAppSecretExists  `true`: that secret exists already and is imported, not created
 *   nag            `false` skips the cdk-nag checks (AwsSolutions, Serverless) that otherwise run on every synth
 * The stack is environment-agnostic (no account or region, no lookups), so `cdk synth`
 * works offline without AWS credentials; `cdk deploy` takes them from the caller's profile.
 */
const app = new App();

const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
};

const stackName = context('stackName') ?? 'Roster';
const stage = context('stage');
const corsOrigins = (context('corsOrigins') ?? '*')
  .split(',')
  .map((origin) => origin.trim())
  .filter((origin) => origin.length > 0);
const alarmTopicArn = context('alarmTopicArn');
const staticEgress = context('staticEgress') === 'true';
const salesforceAppSecretName = context('salesforceAppSecretName');
const salesforceAppSecretExists = context('salesforceAppSecretExists') === 'true';

new RosterStack(app, stackName, {
  stackName,
  description: `Roster user-data hub${stage ? ` (${stage})` : ''}`,
  stage,
  corsOrigins,
  alarmTopicArn,
  staticEgress,
  salesforceAppSecretName,
  salesforceAppSecretExists,
});

// Every synth (and so every deploy) fails on a finding of AWS's rule packs that is not acknowledged in code.
if (context('nag') !== 'false') Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));

Tags.of(app).add('project', 'roster');
if (stage) Tags.of(app).add('stage', stage);

app.synth();
