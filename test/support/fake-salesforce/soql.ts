/**
 * A SOQL subset: parser and evaluator.
 *
 *   SELECT <fields | COUNT()> FROM <Object> [WHERE <condition>] [ORDER BY <field> [ASC|DESC] [NULLS FIRST|LAST], ...]
 *   [LIMIT n] [OFFSET n]
 *
 * Conditions: `field op literal` (= != <> < <= > >=), `field [NOT] IN (...)`, `field LIKE '...'`, AND / OR / NOT
 * and parentheses. Like Salesforce, AND and OR cannot be mixed at one level without parentheses.
 * Errors carry Salesforce's codes (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE) and message layout
 * (the query, a caret, "ERROR at Row:1:Column:N", the reason).
 */
import {
  ApiError,
  isIdType,
  isNumberType,
  isTextType,
  isValidDate,
  parseDateTime,
  type FieldDef,
  type FieldType,
  type Row,
  type Table,
} from './org-data.js';

type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'date'; value: string }
  | { kind: 'datetime'; value: number };

interface FieldRef {
  name: string;
  pos: number;
}

type Condition =
  | { kind: 'compare'; field: FieldRef; op: '=' | '!=' | '<' | '<=' | '>' | '>='; value: Literal; pos: number }
  | { kind: 'in'; field: FieldRef; negated: boolean; values: Literal[]; pos: number }
  | { kind: 'like'; field: FieldRef; pattern: string; pos: number }
  | { kind: 'and' | 'or'; parts: Condition[] }
  | { kind: 'not'; part: Condition };

export interface ParsedQuery {
  text: string;
  select: FieldRef[] | 'count';
  from: FieldRef;
  where?: Condition;
  orderBy: Array<{ field: FieldRef; descending: boolean; nullsLast: boolean }>;
  limit?: number;
  offset?: number;
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

type Token =
  | { type: 'word'; text: string; pos: number }
  | { type: 'literal'; value: Literal; text: string; pos: number }
  | { type: 'punct'; text: string; pos: number }
  | { type: 'eof'; text: string; pos: number };

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '"': '"', "'": "'", '\\': '\\', _: '\\_', '%': '\\%' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw malformed(text, start, `line 1:${start} mismatched character '<EOF>' expecting '''`);
        const ch = text[i] as string;
        if (ch === '\\') {
          const next = text[i + 1];
          const mapped = next === undefined ? undefined : ESCAPES[next];
          if (mapped === undefined) throw malformed(text, i, `Invalid string literal '${text.slice(start, i + 2)}'. Illegal character sequence '\\${next ?? ''}' in string literal.`);
          value += mapped;
          i += 2;
          continue;
        }
        if (ch === "'") {
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ type: 'literal', value: { kind: 'string', value }, text: text.slice(start, i), pos: start });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^-?\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?/.exec(text.slice(i));
      if (m && !m[0].startsWith('-')) {
        const lit = m[0];
        i += lit.length;
        if (m[1]) {
          const ms = parseDateTime(lit);
          if (ms === undefined) throw malformed(text, start, `line 1:${start} no viable alternative at character '${lit}'`);
          tokens.push({ type: 'literal', value: { kind: 'datetime', value: ms }, text: lit, pos: start });
        } else {
          if (!isValidDate(lit)) throw malformed(text, start, `line 1:${start} no viable alternative at character '${lit}'`);
          tokens.push({ type: 'literal', value: { kind: 'date', value: lit }, text: lit, pos: start });
        }
        continue;
      }
      const n = /^-?\d+(\.\d+)?/.exec(text.slice(i)) as RegExpExecArray;
      i += n[0].length;
      tokens.push({ type: 'literal', value: { kind: 'number', value: Number(n[0]) }, text: n[0], pos: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_.]/.test(text[i] as string)) i++;
      tokens.push({ type: 'word', text: text.slice(start, i), pos: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ type: 'punct', text: two, pos: start });
      i += 2;
      continue;
    }
    if ('=<>(),'.includes(c)) {
      tokens.push({ type: 'punct', text: c, pos: start });
      i++;
      continue;
    }
    throw malformed(text, start, `line 1:${start} no viable alternative at character '${c}'`);
  }
  tokens.push({ type: 'eof', text: '<EOF>', pos: text.length });
  return tokens;
}

/** Salesforce's error layout: the query, a caret under the problem, its row and column, the reason. */
function located(text: string, pos: number, reason: string): string {
  return `\n${text}\n${' '.repeat(Math.max(0, pos))}^\nERROR at Row:1:Column:${pos + 1}\n${reason}`;
}

function malformed(text: string, pos: number, reason: string): ApiError {
  return new ApiError(400, 'MALFORMED_QUERY', located(text, pos, reason));
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'ORDER', 'BY', 'LIMIT', 'OFFSET', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'ASC', 'DESC', 'NULLS', 'FIRST', 'LAST', 'NULL', 'TRUE', 'FALSE']);

class Parser {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.type !== 'eof') this.i++;
    return t;
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.tokens[this.i + offset];
    return t?.type === 'word' && t.text.toUpperCase() === word;
  }

  private unexpected(t: Token = this.peek()): ApiError {
    return malformed(this.text, t.pos, `unexpected token: ${t.type === 'eof' ? '<EOF>' : `'${t.text}'`}`);
  }

  private expectWord(word: string): void {
    if (!this.isWord(word)) throw this.unexpected();
    this.next();
  }

  private expectPunct(p: string): void {
    const t = this.peek();
    if (t.type !== 'punct' || t.text !== p) throw this.unexpected();
    this.next();
  }

  private fieldRef(): FieldRef {
    const t = this.peek();
    if (t.type !== 'word' || RESERVED.has(t.text.toUpperCase())) throw this.unexpected();
    this.next();
    return { name: t.text, pos: t.pos };
  }

  parse(): ParsedQuery {
    this.expectWord('SELECT');
    let select: ParsedQuery['select'];
    if (this.isWord('COUNT') && this.tokens[this.i + 1]?.text === '(') {
      this.next();
      this.expectPunct('(');
      this.expectPunct(')');
      select = 'count';
    } else {
      const fields = [this.fieldRef()];
      while (this.peek().text === ',') {
        this.next();
        fields.push(this.fieldRef());
      }
      select = fields;
    }
    this.expectWord('FROM');
    const from = this.fieldRef();
    const query: ParsedQuery = { text: this.text, select, from, orderBy: [] };
    if (this.isWord('WHERE')) {
      this.next();
      query.where = this.condition();
    }
    if (this.isWord('ORDER')) {
      this.next();
      this.expectWord('BY');
      for (;;) {
        const field = this.fieldRef();
        let descending = false;
        if (this.isWord('ASC')) this.next();
        else if (this.isWord('DESC')) {
          this.next();
          descending = true;
        }
        // Salesforce's default: nulls first when ascending, last when descending.
        let nullsLast = descending;
        if (this.isWord('NULLS')) {
          this.next();
          if (this.isWord('FIRST')) nullsLast = false;
          else if (this.isWord('LAST')) nullsLast = true;
          else throw this.unexpected();
          this.next();
        }
        query.orderBy.push({ field, descending, nullsLast });
        if (this.peek().text !== ',') break;
        this.next();
      }
    }
    if (this.isWord('LIMIT')) {
      this.next();
      query.limit = this.nonNegativeInteger();
    }
    if (this.isWord('OFFSET')) {
      this.next();
      query.offset = this.nonNegativeInteger();
    }
    if (this.peek().type !== 'eof') throw this.unexpected();
    return query;
  }

  private nonNegativeInteger(): number {
    const t = this.next();
    if (t.type !== 'literal' || t.value.kind !== 'number' || !Number.isInteger(t.value.value) || t.value.value < 0) throw this.unexpected(t);
    return t.value.value;
  }

  /** OR-list or AND-list of terms; mixing the two at one level is an error in SOQL. */
  private condition(): Condition {
    const first = this.term();
    const connective = this.isWord('AND') ? 'and' : this.isWord('OR') ? 'or' : undefined;
    if (!connective) return first;
    const parts = [first];
    while (this.isWord(connective.toUpperCase())) {
      this.next();
      parts.push(this.term());
    }
    if (this.isWord('AND') || this.isWord('OR')) throw this.unexpected();
    return { kind: connective, parts };
  }

  private term(): Condition {
    if (this.isWord('NOT')) {
      this.next();
      return { kind: 'not', part: this.term() };
    }
    if (this.peek().text === '(' && this.peek().type === 'punct') {
      this.next();
      const inner = this.condition();
      this.expectPunct(')');
      return inner;
    }
    const field = this.fieldRef();
    const opToken = this.peek();
    if (this.isWord('NOT') && this.isWord('IN', 1)) {
      this.next();
      this.next();
      return { kind: 'in', field, negated: true, values: this.literalList(), pos: opToken.pos };
    }
    if (this.isWord('IN')) {
      this.next();
      return { kind: 'in', field, negated: false, values: this.literalList(), pos: opToken.pos };
    }
    if (this.isWord('LIKE')) {
      this.next();
      const t = this.next();
      if (t.type !== 'literal' || t.value.kind !== 'string') throw this.unexpected(t);
      return { kind: 'like', field, pattern: t.value.value, pos: opToken.pos };
    }
    if (opToken.type !== 'punct' || !['=', '!=', '<>', '<', '<=', '>', '>='].includes(opToken.text)) throw this.unexpected(opToken);
    this.next();
    const op = (opToken.text === '<>' ? '!=' : opToken.text) as '=' | '!=' | '<' | '<=' | '>' | '>=';
    return { kind: 'compare', field, op, value: this.literal(), pos: this.tokens[this.i - 1]?.pos ?? opToken.pos };
  }

  private literalList(): Literal[] {
    this.expectPunct('(');
    const values = [this.literal()];
    while (this.peek().text === ',') {
      this.next();
      values.push(this.literal());
    }
    this.expectPunct(')');
    return values;
  }

  private literal(): Literal {
    const t = this.next();
    if (t.type === 'literal') return t.value;
    if (t.type === 'word') {
      const upper = t.text.toUpperCase();
      if (upper === 'NULL') return { kind: 'null' };
      if (upper === 'TRUE') return { kind: 'boolean', value: true };
      if (upper === 'FALSE') return { kind: 'boolean', value: false };
    }
    throw this.unexpected(t);
  }
}

export function parseSoql(text: string): ParsedQuery {
  if (!text.trim()) throw new ApiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
  return new Parser(text, tokenize(text)).parse();
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

export interface CompiledQuery {
  table: Table;
  /** Selected fields in select-list order, or 'count' for SELECT COUNT(). */
  fields: FieldDef[] | 'count';
  run(options: { includeDeleted: boolean }): Row[];
}

const typeNames: Partial<Record<FieldType, string>> = {
  boolean: 'boolean',
  date: 'date',
  datetime: 'dateTime',
  int: 'int',
  double: 'double',
  currency: 'currency',
  percent: 'percent',
  id: 'id',
  reference: 'reference',
};

/** Resolves names against the org's schema and builds the filter and ordering. */
export function compileSoql(text: string, lookupTable: (name: string) => Table | undefined): CompiledQuery {
  const query = parseSoql(text);
  const table = lookupTable(query.from.name);
  if (!table) {
    throw new ApiError(
      400,
      'INVALID_TYPE',
      located(
        text,
        query.from.pos,
        `sObject type '${query.from.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      ),
    );
  }
  const { schema } = table;
  const resolve = (ref: FieldRef): FieldDef => {
    // Accept the object's own name as a prefix (SELECT Contact.Email FROM Contact).
    const name = ref.name.toLowerCase().startsWith(`${schema.name.toLowerCase()}.`) ? ref.name.slice(schema.name.length + 1) : ref.name;
    const field = name.includes('.') ? undefined : schema.field(name);
    if (!field) {
      throw new ApiError(
        400,
        'INVALID_FIELD',
        located(
          text,
          ref.pos,
          `No such column '${ref.name}' on entity '${schema.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        ),
      );
    }
    return field;
  };

  const fields = query.select === 'count' ? 'count' : query.select.map(resolve);
  if (fields !== 'count') {
    const seen = new Set<string>();
    for (const [i, field] of fields.entries()) {
      if (seen.has(field.name)) throw malformed(text, (query.select as FieldRef[])[i]?.pos ?? 0, `duplicate field selected: ${field.name}`);
      seen.add(field.name);
    }
  }
  const predicate = query.where ? compileCondition(query.where, resolve, text) : () => true;
  const order = query.orderBy.map((o) => ({ ...o, def: resolve(o.field) }));
  const deletedIndex = table.deletedField.index;

  return {
    table,
    fields,
    run({ includeDeleted }) {
      let rows = table.rows.filter((row) => (includeDeleted || !row[deletedIndex]) && predicate(row));
      if (order.length) {
        // Decorate-sort-undecorate: the sort keys are computed once per row, not per comparison.
        const keyed = rows.map((row) => ({ row, keys: order.map((o) => sortKey(o.def, row[o.def.index])) }));
        keyed.sort((a, b) => {
          for (const [i, o] of order.entries()) {
            const x = a.keys[i];
            const y = b.keys[i];
            if (x === y) continue;
            if (x === null) return o.nullsLast ? 1 : -1;
            if (y === null) return o.nullsLast ? -1 : 1;
            const c = (x as number | string) < (y as number | string) ? -1 : 1;
            return o.descending ? -c : c;
          }
          return 0;
        });
        rows = keyed.map((k) => k.row);
      }
      const offset = query.offset ?? 0;
      if (offset || query.limit !== undefined) rows = rows.slice(offset, query.limit === undefined ? undefined : offset + query.limit);
      return rows;
    },
  };
}

function sortKey(field: FieldDef, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (field.type === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && !isIdType(field.type)) return value.toLowerCase();
  return value as string | number;
}

/** The row value and the literal in comparable form, after checking that the literal suits the field. */
function literalFor(field: FieldDef, literal: Literal, text: string, pos: number): string | number | boolean | null {
  if (literal.kind === 'null') return null;
  const expected =
    isTextType(field.type) || isIdType(field.type)
      ? 'string'
      : isNumberType(field.type)
        ? 'number'
        : field.type === 'boolean'
          ? 'boolean'
          : field.type === 'date'
            ? 'date'
            : 'datetime';
  if (literal.kind !== expected) {
    const quoted = expected === 'string';
    throw new ApiError(
      400,
      'INVALID_FIELD',
      located(
        text,
        pos,
        `value of filter criterion for field '${field.name}' must be of type ${typeNames[field.type] ?? 'string'} and should ${quoted ? '' : 'not '}be enclosed in quotes`,
      ),
    );
  }
  if (literal.kind === 'string') return isIdType(field.type) ? literal.value : literal.value.toLowerCase();
  return literal.value;
}

function rowValue(field: FieldDef, row: Row): string | number | boolean | null {
  const value = row[field.index];
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' && !isIdType(field.type)) return value.toLowerCase();
  return value as string | number | boolean;
}

function compileCondition(cond: Condition, resolve: (ref: FieldRef) => FieldDef, text: string): (row: Row) => boolean {
  switch (cond.kind) {
    case 'and': {
      const parts = cond.parts.map((p) => compileCondition(p, resolve, text));
      return (row) => parts.every((p) => p(row));
    }
    case 'or': {
      const parts = cond.parts.map((p) => compileCondition(p, resolve, text));
      return (row) => parts.some((p) => p(row));
    }
    case 'not': {
      const part = compileCondition(cond.part, resolve, text);
      return (row) => !part(row);
    }
    case 'like': {
      const field = resolve(cond.field);
      if (!isTextType(field.type) && !isIdType(field.type)) {
        throw new ApiError(400, 'INVALID_FIELD', located(text, cond.pos, `invalid operator on ${typeNames[field.type] ?? field.type} field: LIKE`));
      }
      const re = likeToRegExp(cond.pattern);
      return (row) => {
        const v = row[field.index];
        return typeof v === 'string' && re.test(v);
      };
    }
    case 'in': {
      const field = resolve(cond.field);
      const values = new Set(cond.values.map((v) => literalFor(field, v, text, cond.pos)));
      return (row) => {
        const v = rowValue(field, row);
        const hit = values.has(v);
        return cond.negated ? !hit : hit;
      };
    }
    case 'compare': {
      const field = resolve(cond.field);
      const lit = literalFor(field, cond.value, text, cond.pos);
      const op = cond.op;
      if (lit === null && op !== '=' && op !== '!=') throw malformed(text, cond.pos, `invalid operator on null: ${op}`);
      return (row) => {
        const v = rowValue(field, row);
        if (op === '=') return v === lit;
        if (op === '!=') return v !== lit;
        // A null value is neither less nor greater than anything.
        if (v === null || lit === null) return false;
        if (op === '<') return v < lit;
        if (op === '<=') return v <= lit;
        if (op === '>') return v > lit;
        return v >= lit;
      };
    }
  }
}

/** LIKE: % any run, _ one character, backslash escapes; case-insensitive like Salesforce. */
function likeToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      out += escapeRegExp(pattern[i + 1] as string);
      i++;
    } else if (c === '%') out += '.*';
    else if (c === '_') out += '.';
    else out += escapeRegExp(c);
  }
  return new RegExp(`^${out}$`, 'is');
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
