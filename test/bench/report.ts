import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

interface Row {
  group: string;
  name: string;
  value: number | string;
  note: string;
}

/**
 * Collects figures, prints each as `figure: <name>=<value>`, and writes a Markdown report.
 * A run of some groups (`--only`) keeps the other groups' rows and notes from the previous
 * report, marked with the run they came from, so one report always holds every figure.
 */
export class BenchReport {
  private readonly rows: Row[] = [];
  private readonly notes: Array<{ group: string; text: string }> = [];
  private readonly groups = new Set<string>();
  private current = '';

  get group(): string {
    return this.current;
  }

  set group(name: string) {
    this.current = name;
    this.groups.add(name);
  }

  note(text: string): void {
    this.notes.push({ group: this.current, text });
    console.log(text);
  }

  figure(name: string, value: number | string, note = ''): void {
    this.rows.push({ group: this.current, name, value, note });
    console.log(`figure: ${name}=${value}`);
  }

  write(directory: string): string {
    mkdirSync(directory, { recursive: true });
    const path = join(directory, 'latest.md');
    const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const previousRun = /^Run (\S+) on/m.exec(previous)?.[1] ?? 'an earlier run';
    const kept = previous
      .split('\n')
      .map((line) => /^\| (\S+) \| `([^`]+)` \| (.*?) \| (.*) \|$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null && !this.groups.has(match[1]!))
      .map((match) => ({ group: match[1]!, name: match[2]!, value: match[3]!, note: match[4]!.includes('(from ') ? match[4]! : `${match[4]!} (from ${previousRun})`.trim() }));
    const keptNotes = previous
      .split('\n')
      .map((line) => /^- (\S+): (.*)$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null && !this.groups.has(match[1]!))
      .map((match) => ({ group: match[1]!, text: match[2]! }));
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
    const rows = [...kept, ...this.rows];
    const notes = [...keptNotes, ...this.notes];
    const lines = [
      '# Roster benchmark report',
      '',
      `Run ${new Date().toISOString()} on ${machine}${kept.length > 0 ? ` (groups ${[...this.groups].join(', ')}; rows marked "from" are from an earlier run)` : ''}.`,
      '',
      '| group | figure | value | note |',
      '|---|---|---|---|',
      ...rows.map((row) => `| ${row.group} | \`${row.name}\` | ${row.value} | ${row.note} |`),
      '',
      ...(notes.length > 0 ? ['## Notes', '', ...notes.map((note) => `- ${note.group}: ${note.text}`), ''] : []),
    ];
    writeFileSync(path, lines.join('\n'));
    return path;
  }
}
