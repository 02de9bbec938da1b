import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/** True when a conditional write was refused (its condition did not hold), whichever client threw it. */
export const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';

/**
 * `SET a = :a, b = :b …` for the defined entries of `values`, with placeholder names so any
 * attribute name (reserved words such as `status` included) is safe.
 */
export function setExpression(values: Record<string, unknown>) {
  const entries = Object.entries(values).filter(([, value]) => value !== undefined);
  return {
    UpdateExpression: `SET ${entries.map((_, index) => `#f${index} = :v${index}`).join(', ')}`,
    ExpressionAttributeNames: Object.fromEntries(entries.map(([name], index) => [`#f${index}`, name])),
    ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], index) => [`:v${index}`, value])),
  };
}
