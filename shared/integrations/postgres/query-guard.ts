import { loadModule, parseSync } from 'libpg-query';

/**
 * The SELECT-only rule, checked with PostgreSQL's own parser (libpg_query, compiled to WASM)
 * so the tenant gets a clear 400 naming the problem. This is the first line only: the run
 * itself is also read-only on the server (extended protocol, `BEGIN READ ONLY`, ROLLBACK),
 * so a query this check misjudged still cannot change the tenant's data.
 */
export const LAST_SYNC_VARIABLE = '$LAST_SYNC_TIMESTAMP';

/** `syntax`: PostgreSQL's own parser refused the text (a query error); `rule`: valid SQL that Roster does not run. */
export type QueryCheck = { ok: true; sql: string; usesLastSync: boolean } | { ok: false; message: string; kind: 'syntax' | 'rule' };

let loaded: Promise<void> | undefined;

/** Loads the parser once per process (a few ms; the WASM module is bundled beside the code). */
export function loadQueryParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** Node types that write, lock or create something; any of them anywhere in the tree is refused. */
const FORBIDDEN_NODES: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  intoClause: 'SELECT … INTO (it creates a table)',
  lockingClause: 'FOR UPDATE / FOR SHARE (row locks)',
};

/**
 * Checks the tenant's query and returns the SQL to run: `$LAST_SYNC_TIMESTAMP` replaced by
 * the bound parameter `$1` (outside string literals, quoted identifiers and comments, so it
 * is never spliced as text), a trailing semicolon removed.
 */
export async function checkQuery(query: string): Promise<QueryCheck> {
  await loadQueryParser();
  const original = query.trim().replace(/;\s*$/, '');
  if (original === '') return { ok: false, kind: 'rule', message: 'the query is empty' };
  if (/\$\d/.test(stripLiterals(original))) {
    return { ok: false, kind: 'rule', message: `the query may not use positional parameters ($1, $2, …); use ${LAST_SYNC_VARIABLE} for the last sync time` };
  }
  const { sql, usesLastSync } = bindLastSync(original);
  let tree: { stmts?: Array<{ stmt?: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const at = typeof details?.cursorPosition === 'number' ? ` (at character ${details.cursorPosition + 1})` : '';
    return { ok: false, kind: 'syntax', message: `the query is not valid SQL: ${(error as Error).message}${at}` };
  }
  const statements = tree.stmts ?? [];
  if (statements.length !== 1) return { ok: false, kind: 'rule', message: `the query must be exactly one statement; it has ${statements.length}` };
  const kind = Object.keys(statements[0]!.stmt ?? {})[0] ?? 'unknown';
  if (kind !== 'SelectStmt') return { ok: false, kind: 'rule', message: `the query must be a SELECT (or WITH … SELECT); it is ${describeStatement(kind)}` };
  const forbidden = findForbidden(statements[0]!.stmt);
  if (forbidden) return { ok: false, kind: 'rule', message: `the query may only read: it contains ${forbidden}` };
  // The statement alone (a trailing `;` or comment would break the subquery Roster wraps it in).
  const { stmt_location: location = 0, stmt_len: length = 0 } = statements[0]!;
  // libpg_query's locations count UTF-8 bytes.
  const bytes = Buffer.from(sql, 'utf8');
  const statement = (length > 0 ? bytes.subarray(location, location + length) : bytes.subarray(location)).toString('utf8').trim();
  return { ok: true, sql: statement, usesLastSync };
}

function describeStatement(kind: string): string {
  const name = kind.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  return `a ${name} statement`;
}

function findForbidden(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findForbidden(item);
      if (found) return found;
    }
    return undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (key in FORBIDDEN_NODES && value !== undefined && !(Array.isArray(value) && value.length === 0)) return FORBIDDEN_NODES[key];
    const found = findForbidden(value);
    if (found) return found;
  }
  return undefined;
}

/** Replaces the variable by `$1::timestamptz` (a bound parameter, typed) in code only (not inside '…', "…", $tag$…$tag$ or comments). */
function bindLastSync(sql: string): { sql: string; usesLastSync: boolean } {
  let out = '';
  let usesLastSync = false;
  for (const segment of segments(sql)) {
    if (segment.code) {
      const replaced = segment.text.split(LAST_SYNC_VARIABLE);
      if (replaced.length > 1) usesLastSync = true;
      out += replaced.join('$1::timestamptz');
    } else {
      out += segment.text;
    }
  }
  return { sql: out, usesLastSync };
}

function stripLiterals(sql: string): string {
  return segments(sql)
    .filter((segment) => segment.code)
    .map((segment) => segment.text)
    .join(' ');
}

/** Splits SQL into code and non-code (literals, quoted identifiers, comments). */
function segments(sql: string): Array<{ code: boolean; text: string }> {
  const parts: Array<{ code: boolean; text: string }> = [];
  let index = 0;
  let start = 0;
  const push = (code: boolean, end: number) => {
    if (end > start) parts.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (index < sql.length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    let end = -1;
    if (char === "'" || char === '"') {
      end = index + 1;
      for (;;) {
        const close = sql.indexOf(char, end);
        if (close < 0) {
          end = sql.length;
          break;
        }
        if (sql[close + 1] === char) {
          end = close + 2;
          continue;
        }
        end = close + 1;
        break;
      }
    } else if (char === '-' && next === '-') {
      const close = sql.indexOf('\n', index);
      end = close < 0 ? sql.length : close;
    } else if (char === '/' && next === '*') {
      const close = sql.indexOf('*/', index + 2);
      end = close < 0 ? sql.length : close + 2;
    } else if (char === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(index));
      if (tag && !sql.startsWith(LAST_SYNC_VARIABLE, index)) {
        const close = sql.indexOf(tag[0], index + tag[0].length);
        end = close < 0 ? sql.length : close + tag[0].length;
      }
    }
    if (end > index) {
      push(true, index);
      push(false, end);
      index = end;
    } else {
      index += 1;
    }
  }
  push(true, sql.length);
  return parts;
}
