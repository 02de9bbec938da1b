import { afterEach, describe, expect, it } from 'vitest';
import { assertJavaForDynamoDbLocal } from '../../infra/local/java-check.js';

describe('Java check for DynamoDB Local', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('passes on this machine (Java 17+ installed)', () => {
    expect(() => assertJavaForDynamoDbLocal()).not.toThrow();
  });

  it('fails with a message that names the fix when java is missing', () => {
    process.env.PATH = '/nonexistent';
    expect(() => assertJavaForDynamoDbLocal()).toThrow(/needs Java 17 or later \(no `java` on PATH\).*openjdk-17-jre-headless/);
  });
});
