import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** Collects figures, prints each as `figure: <name>=<value>`, and writes a Markdown report. */
export class BenchReport {
  private readonly rows: Array<{ group: string; name: string; value: number | string; note: string }> = [];
  private readonly notes: string[] = [];
  group = '';

  note(text: string): void {
    this.notes.push(`- ${this.group}: ${text}`);
    console.log(text);
  }

  figure(name: string, value: number | string, note = ''): void {
    this.rows.push({ group: this.group, name, value, note });
    console.log(`figure: ${name}=${value}`);
  }

  write(directory: string): string {
    mkdirSync(directory, { recursive: true });
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
    const lines = [
      '# Roster benchmark report',
      '',
      `Run ${new Date().toISOString()} on ${machine}.`,
      '',
      '| group | figure | value | note |',
      '|---|---|---|---|',
      ...this.rows.map((row) => `| ${row.group} | \`${row.name}\` | ${row.value} | ${row.note} |`),
      '',
      ...(this.notes.length > 0 ? ['## Notes', '', ...this.notes, ''] : []),
    ];
    const path = join(directory, 'latest.md');
    writeFileSync(path, lines.join('\n'));
    return path;
  }
}
