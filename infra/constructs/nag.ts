import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutions and Serverless packs) runs on every synth of the infrastructure
 * tests. A finding that is right for Roster is acknowledged here, one finding at a time,
 * with its reason, next to the resource it concerns: never a whole rule for a whole stack.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** How cdk-nag spells a resource's ARN in a finding ID: `<LogicalId.Arn>`. */
export function nagArn(resource: IConstruct): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}
