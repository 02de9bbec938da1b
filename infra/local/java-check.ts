import { spawnSync } from 'node:child_process';

/** DynamoDB Local is a Java program: fail early, with the fix, when Java 17+ is missing. */
export function assertJavaForDynamoDbLocal(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`;
  const major = Number(/version "(\d+)(?:\.(\d+))?/.exec(output)?.[1] ?? Number.NaN);
  if (result.error || Number.isNaN(major) || major < 17) {
    const found = result.error ? 'no `java` on PATH' : `found: ${output.split('\n')[0]?.trim() || 'unknown version'}`;
    throw new Error(
      `DynamoDB Local needs Java 17 or later (${found}). Install a JRE 17+, e.g. ` +
        '`sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17` (macOS), ' +
        'and make sure `java` is on your PATH.',
    );
  }
}
