import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/constructs/roster-function.js';
import { RosterStack, type RosterStackProps } from '../../infra/roster-stack.js';

/**
 * AWS's own rule packs over the stack, as `cdk synth` builds it: cdk-nag's AwsSolutions and
 * Serverless checks run as validation plugins, and synthesis fails on any finding that is
 * not acknowledged (each acknowledgement is one finding with its reason, next to the resource).
 */
const cdkContext = JSON.parse(readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8')).context as Record<string, unknown>;

function synthWithNag(props: RosterStackProps) {
  const app = new App({ context: cdkContext });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  new RosterStack(app, 'RosterNag', { stackName: 'RosterNag', ...props });
  try {
    app.synth();
    return { error: undefined, outdir: app.outdir };
  } catch (error) {
    return { error: String(error), outdir: app.outdir };
  } finally {
    if (existsSync(app.outdir)) rmSync(app.outdir, { recursive: true, force: true });
  }
}

describe('cdk-nag', () => {
  it.each([
    ['the default stack', {}],
    ['the stack with static egress', { staticEgress: true }],
    ['the stack importing an existing Salesforce app secret', { salesforceAppSecretExists: true }],
  ])('%s has no unacknowledged AwsSolutions or Serverless finding', (_name, props) => {
    const { error } = synthWithNag(props as RosterStackProps);
    // On failure the message lists each finding with the ID to acknowledge.
    expect(error).toBeUndefined();
  });

  it('the checks do run: an unacknowledged finding fails synthesis', () => {
    const app = new App({ context: cdkContext });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new RosterStack(app, 'RosterNagProbe', { stackName: 'RosterNagProbe' });
    // A queue without encryption or TLS enforcement: AwsSolutions-SQS3/SQS4 must fire.
    new sqs.Queue(stack, 'Careless', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS/);
    rmSync(app.outdir, { recursive: true, force: true });
  });
});
