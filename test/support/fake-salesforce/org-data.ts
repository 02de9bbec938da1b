/**
 * The data of one fake org: object schemas (what describe answers), records, and the write rules
 * (validation, unique indexes, system fields) shared by sObject Collections and Bulk API 2.0 ingest.
 *
 * Records are stored compactly as arrays of values in field order (not objects) so that a benchmark
 * can seed hundreds of thousands of them. Rows are never mutated in place: an update replaces the
 * row, so a query snapshot (an array of row references) keeps seeing the values of its start.
 */

export type FieldType =
  | 'id'
  | 'string'
  | 'email'
  | 'boolean'
  | 'double'
  | 'int'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'picklist'
  | 'multipicklist'
  | 'phone'
  | 'url'
  | 'textarea'
  | 'reference';

export interface FakeFieldSpec {
  name: string;
  label: string;
  type: FieldType;
  length?: number;
  updateable?: boolean;
  createable?: boolean;
  externalId?: boolean;
  unique?: boolean;
  nillable?: boolean;
  defaultedOnCreate?: boolean;
  picklistValues?: Array<string | { value: string; label?: string; active?: boolean }>;
  /** For reference fields: the objects it points at (describe's referenceTo). */
  referenceTo?: string[];
  /** Value given on create when the record leaves the field out (for defaultedOnCreate fields). */
  defaultValue?: unknown;
}

/** A field as the fake uses it: every flag resolved, plus its position in a row. */
export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  length: number;
  updateable: boolean;
  createable: boolean;
  externalId: boolean;
  unique: boolean;
  nillable: boolean;
  defaultedOnCreate: boolean;
  picklistValues: Array<{ value: string; label: string; active: boolean }>;
  referenceTo: string[];
  defaultValue: unknown;
  index: number;
}

/** A stored record: values in field order. Datetimes are epoch ms, dates 'YYYY-MM-DD', null for empty. */
export type Row = readonly unknown[];

export interface WriteError {
  statusCode: string;
  message: string;
  fields: string[];
}

export type WriteOutcome =
  | { ok: true; id: string; created: boolean; undo: () => void }
  | { ok: false; id?: string; errors: WriteError[] };

export type WritePredicate = (
  object: string,
  record: Record<string, unknown>,
) => { statusCode: string; message: string; fields?: string[] } | undefined;

/** An error that answers the whole HTTP request (as opposed to one record's failure). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Value formats
// ---------------------------------------------------------------------------------------------

/** Salesforce's REST datetime format: 2024-05-01T10:00:00.000+0000 (always UTC). */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** Bulk API 2.0 query results write datetimes with a Z: 2024-05-01T10:00:00.000Z. */
export function formatDateTimeBulk(ms: number): string {
  return new Date(ms).toISOString();
}

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses the datetime spellings Salesforce accepts (Z, +0000, +00:00, optional fraction) to epoch ms. */
export function parseDateTime(text: string): number | undefined {
  const m = DATETIME_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  let offsetMin = 0;
  if (zone && zone !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMin = (digits.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (!validCalendarDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  return utc - offsetMin * 60_000;
}

export function isValidDate(text: string): boolean {
  const m = DATE_RE.exec(text);
  return !!m && validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

function validCalendarDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** A stored value as the REST API's JSON writes it. */
export function toJsonValue(field: FieldDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (field.type === 'datetime') return formatDateTime(value as number);
  return value;
}

const TEXT_TYPES = new Set<FieldType>(['string', 'email', 'picklist', 'multipicklist', 'phone', 'url', 'textarea']);
const NUMBER_TYPES = new Set<FieldType>(['double', 'int', 'currency', 'percent']);

export const isTextType = (type: FieldType) => TEXT_TYPES.has(type);
export const isNumberType = (type: FieldType) => NUMBER_TYPES.has(type);
export const isIdType = (type: FieldType) => type === 'id' || type === 'reference';

export function soapType(type: FieldType): string {
  if (isIdType(type)) return 'tns:ID';
  if (type === 'boolean') return 'xsd:boolean';
  if (type === 'int') return 'xsd:int';
  if (isNumberType(type)) return 'xsd:double';
  if (type === 'date') return 'xsd:date';
  if (type === 'datetime') return 'xsd:dateTime';
  return 'xsd:string';
}

// Deliberately simple (Salesforce's own check is looser than RFC 5322 but rejects the obvious).
const EMAIL_RE = /^[^\s@,;"<>()]+@[^\s@,;"<>()]+\.[^\s@,;"<>()]+$/;

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

// Base 62 in byte order, so that ids issued later also sort later (Id tie-breakers rely on it).
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

export function toBase62(n: number, width: number): string {
  let out = '';
  let rest = n;
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** The 3-character case-safe suffix that turns a 15-character Id into its 18-character form. */
export function caseSafeSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    suffix += SUFFIX_CHARS[bits];
  }
  return suffix;
}

const ID_RE = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-5]{3})?$/;

/** The 18-character form of an Id given in 15 or 18 characters, or undefined when malformed. */
export function normalizeId(id: string): string | undefined {
  if (!ID_RE.test(id)) return undefined;
  return id.length === 15 ? id + caseSafeSuffix(id) : id;
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

export class ObjectSchema {
  readonly fields: FieldDef[] = [];
  private readonly byLower = new Map<string, FieldDef>();

  constructor(
    readonly name: string,
    readonly label: string,
    readonly labelPlural: string,
    readonly keyPrefix: string,
    specs: FakeFieldSpec[],
  ) {
    for (const spec of specs) this.addField(spec);
  }

  get custom(): boolean {
    return this.name.endsWith('__c');
  }

  field(name: string): FieldDef | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  /** A field by name that the fake itself relies on (Id, system fields). */
  required(name: string): FieldDef {
    const field = this.field(name);
    if (!field) throw new Error(`${this.name} has no field ${name}`);
    return field;
  }

  addField(spec: FakeFieldSpec): FieldDef {
    if (this.byLower.has(spec.name.toLowerCase())) throw new Error(`${this.name}.${spec.name} already exists`);
    const isBoolean = spec.type === 'boolean';
    const def: FieldDef = {
      name: spec.name,
      label: spec.label,
      type: spec.type,
      length: spec.length ?? defaultLength(spec.type),
      updateable: spec.updateable ?? true,
      createable: spec.createable ?? true,
      externalId: spec.externalId ?? false,
      unique: spec.unique ?? false,
      // Checkboxes are never null on Salesforce: not nillable, defaulted to false on create.
      nillable: spec.nillable ?? !isBoolean,
      defaultedOnCreate: spec.defaultedOnCreate ?? isBoolean,
      picklistValues: (spec.picklistValues ?? []).map((p) =>
        typeof p === 'string' ? { value: p, label: p, active: true } : { value: p.value, label: p.label ?? p.value, active: p.active ?? true },
      ),
      referenceTo: spec.referenceTo ?? [],
      defaultValue: spec.defaultValue ?? (isBoolean ? false : null),
      index: this.fields.length,
    };
    this.fields.push(def);
    this.byLower.set(def.name.toLowerCase(), def);
    return def;
  }
}

function defaultLength(type: FieldType): number {
  switch (type) {
    case 'id':
    case 'reference':
      return 18;
    case 'string':
    case 'url':
    case 'picklist':
      return 255;
    case 'email':
      return 80;
    case 'phone':
      return 40;
    case 'textarea':
      return 32000;
    case 'multipicklist':
      return 4099;
    default:
      return 0;
  }
}

const systemFields = (): FakeFieldSpec[] => [
  { name: 'CreatedDate', label: 'Created Date', type: 'datetime', createable: false, updateable: false, nillable: false, defaultedOnCreate: true },
  { name: 'LastModifiedDate', label: 'Last Modified Date', type: 'datetime', createable: false, updateable: false, nillable: false, defaultedOnCreate: true },
  { name: 'SystemModstamp', label: 'System Modstamp', type: 'datetime', createable: false, updateable: false, nillable: false, defaultedOnCreate: true },
];

const idFields = (label: string): FakeFieldSpec[] => [
  { name: 'Id', label: `${label} ID`, type: 'id', createable: false, updateable: false, nillable: false, defaultedOnCreate: true },
  { name: 'IsDeleted', label: 'Deleted', type: 'boolean', createable: false, updateable: false },
];

/** The objects every fake org starts with. */
export function presetSchemas(): ObjectSchema[] {
  const contact = new ObjectSchema('Contact', 'Contact', 'Contacts', '003', [
    ...idFields('Contact'),
    { name: 'FirstName', label: 'First Name', type: 'string', length: 40 },
    { name: 'LastName', label: 'Last Name', type: 'string', length: 80, nillable: false },
    { name: 'Email', label: 'Email', type: 'email' },
    { name: 'Phone', label: 'Business Phone', type: 'phone' },
    { name: 'Birthdate', label: 'Birthdate', type: 'date' },
    { name: 'HasOptedOutOfEmail', label: 'Email Opt Out', type: 'boolean' },
    { name: 'Description', label: 'Contact Description', type: 'textarea' },
    { name: 'Loyalty_Tier__c', label: 'Loyalty Tier', type: 'picklist', picklistValues: ['Gold', 'Silver', 'Bronze'] },
    { name: 'Lifetime_Value__c', label: 'Lifetime Value', type: 'currency' },
    { name: 'Tags__c', label: 'Tags', type: 'multipicklist', picklistValues: ['VIP', 'Newsletter', 'Partner', 'Prospect'] },
    { name: 'Roster_Id__c', label: 'Roster Id', type: 'string', length: 64, externalId: true, unique: true },
    { name: 'Legacy_Ref__c', label: 'Legacy Ref', type: 'string', length: 64 },
    { name: 'AccountId', label: 'Account ID', type: 'reference', referenceTo: ['Account'] },
    // A formula field: readable, never writable.
    { name: 'Name_Formula__c', label: 'Name (Formula)', type: 'string', length: 1300, createable: false, updateable: false },
    ...systemFields(),
  ]);
  const lead = new ObjectSchema('Lead', 'Lead', 'Leads', '00Q', [
    ...idFields('Lead'),
    { name: 'FirstName', label: 'First Name', type: 'string', length: 40 },
    { name: 'LastName', label: 'Last Name', type: 'string', length: 80, nillable: false },
    { name: 'Company', label: 'Company', type: 'string', length: 255, nillable: false },
    { name: 'Email', label: 'Email', type: 'email' },
    {
      name: 'Status',
      label: 'Status',
      type: 'picklist',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: 'Open - Not Contacted',
      picklistValues: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
    },
    ...systemFields(),
  ]);
  const account = new ObjectSchema('Account', 'Account', 'Accounts', '001', [
    ...idFields('Account'),
    { name: 'Name', label: 'Account Name', type: 'string', length: 255, nillable: false },
    { name: 'Industry', label: 'Industry', type: 'picklist', picklistValues: ['Agriculture', 'Banking', 'Retail', 'Technology'] },
    ...systemFields(),
  ]);
  return [contact, lead, account];
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/** The records of one object, with an Id index and an index per unique / external ID field. */
export class Table {
  readonly rows: Row[] = [];
  private readonly byId = new Map<string, number>();
  // field index -> lower-cased value -> row positions (unique fields hold one; external IDs may hold more)
  private readonly valueIndexes = new Map<number, Map<string, number[]>>();
  readonly idField: FieldDef;
  readonly deletedField: FieldDef;

  constructor(readonly schema: ObjectSchema) {
    this.idField = schema.required('Id');
    this.deletedField = schema.required('IsDeleted');
  }

  private indexedFields(): FieldDef[] {
    return this.schema.fields.filter((f) => f.unique || f.externalId);
  }

  positionOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  rowById(id: string): Row | undefined {
    const pos = this.byId.get(id);
    return pos === undefined ? undefined : this.rows[pos];
  }

  /** Live rows whose indexed field equals the value (case-insensitively, as Salesforce matches text). */
  findByValue(field: FieldDef, value: unknown): number[] {
    const index = this.valueIndexes.get(field.index);
    if (index) return (index.get(indexKey(value)) ?? []).filter((pos) => !this.rows[pos]?.[this.deletedField.index]);
    const out: number[] = [];
    const key = indexKey(value);
    this.rows.forEach((row, pos) => {
      if (!row[this.deletedField.index] && row[field.index] != null && indexKey(row[field.index]) === key) out.push(pos);
    });
    return out;
  }

  append(row: Row): number {
    const pos = this.rows.length;
    this.rows.push(row);
    this.byId.set(row[this.idField.index] as string, pos);
    this.indexRow(row, pos, 1);
    return pos;
  }

  /** Removes the last row (undo of an insert in an all-or-none request). */
  removeLast(): void {
    const row = this.rows.pop();
    if (!row) return;
    this.byId.delete(row[this.idField.index] as string);
    this.indexRow(row, this.rows.length, -1);
  }

  replace(pos: number, row: Row): void {
    const old = this.rows[pos];
    if (old) this.indexRow(old, pos, -1);
    this.rows[pos] = row;
    this.indexRow(row, pos, 1);
  }

  private indexRow(row: Row, pos: number, direction: 1 | -1): void {
    for (const field of this.indexedFields()) {
      const value = row[field.index];
      if (value === null || value === undefined) continue;
      let index = this.valueIndexes.get(field.index);
      if (!index) {
        index = new Map();
        this.valueIndexes.set(field.index, index);
      }
      const key = indexKey(value);
      const list = index.get(key) ?? [];
      if (direction === 1) list.push(pos);
      else list.splice(list.indexOf(pos), 1);
      if (list.length) index.set(key, list);
      else index.delete(key);
    }
  }

  /** Rebuilds the value indexes (after addField made a new field unique or external). */
  reindex(): void {
    this.valueIndexes.clear();
    this.rows.forEach((row, pos) => this.indexRow(row, pos, 1));
  }

  toObject(row: Row): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of this.schema.fields) out[field.name] = toJsonValue(field, row[field.index] ?? null);
    return out;
  }
}

const indexKey = (value: unknown) => String(value).toLowerCase();

// ---------------------------------------------------------------------------------------------
// The org's data
// ---------------------------------------------------------------------------------------------

export type WriteOperation = 'insert' | 'update' | 'upsert';
/** Where values come from: JSON bodies (Collections) or CSV text (Bulk API 2.0 ingest). */
export type InputFormat = 'json' | 'csv';

export interface WriteRequest {
  operation: WriteOperation;
  /** Field name (as sent) -> value (as sent). */
  values: Record<string, unknown>;
  format: InputFormat;
  /** For upsert: the external ID field (or Id). */
  externalIdField?: FieldDef;
}

export class OrgData {
  private readonly tables = new Map<string, Table>();
  private readonly counters = new Map<string, number>();
  private clock: () => string = () => new Date().toISOString();
  private writeFailures: WritePredicate | undefined;

  /** @param podCode two characters that make this org's ids different from other orgs' ids. */
  constructor(private readonly podCode: string) {
    for (const schema of presetSchemas()) this.tables.set(schema.name.toLowerCase(), new Table(schema));
  }

  setClock(clock: string | (() => string)): void {
    this.clock = typeof clock === 'string' ? () => clock : clock;
  }

  /** The current time in epoch ms, from the org's clock. */
  now(): number {
    const text = this.clock();
    const ms = parseDateTime(text) ?? Date.parse(text);
    if (Number.isNaN(ms)) throw new Error(`The fake org's clock gave an invalid datetime: ${text}`);
    return ms;
  }

  failWrites(predicate: WritePredicate | undefined): void {
    this.writeFailures = predicate;
  }

  table(object: string): Table | undefined {
    return this.tables.get(object.toLowerCase());
  }

  /** The table of an object named by the test code (throws for unknown objects: a test bug). */
  tableOrThrow(object: string): Table {
    const table = this.table(object);
    if (!table) throw new Error(`The fake org has no object ${object}`);
    return table;
  }

  allTables(): Table[] {
    return [...this.tables.values()];
  }

  addField(object: string, spec: FakeFieldSpec): void {
    const table = this.tableOrThrow(object);
    table.schema.addField(spec);
    if (spec.unique || spec.externalId) table.reindex();
  }

  /** A new 18-character Id with the key prefix (003 Contact, 750 bulk job...), increasing per prefix. */
  newId(keyPrefix: string): string {
    const next = (this.counters.get(keyPrefix) ?? 0) + 1;
    this.counters.set(keyPrefix, next);
    const id15 = `${keyPrefix}${this.podCode}0000${toBase62(next, 6)}`;
    return id15 + caseSafeSuffix(id15);
  }

  /**
   * Seeds records without the API's validation (tests set up data, including system fields, freely).
   * Values are plain JS values: strings, numbers, booleans, null, and Date or ISO strings for datetimes.
   */
  seed(object: string, records: Array<Record<string, unknown>>): string[] {
    const table = this.tableOrThrow(object);
    const { schema } = table;
    const now = this.now();
    return records.map((record) => {
      const row: unknown[] = schema.fields.map((f) => (f.defaultedOnCreate ? f.defaultValue : null));
      for (const [name, value] of Object.entries(record)) {
        const field = schema.field(name);
        if (!field) throw new Error(`${schema.name} has no field ${name}`);
        row[field.index] = seedValue(field, value);
      }
      const id = (row[table.idField.index] as string | null) ?? this.newId(schema.keyPrefix);
      row[table.idField.index] = id;
      if (table.rowById(id)) throw new Error(`${schema.name} ${id} already exists`);
      row[table.deletedField.index] ??= false;
      for (const name of ['CreatedDate', 'LastModifiedDate', 'SystemModstamp']) {
        const field = schema.required(name);
        row[field.index] ??= now;
      }
      table.append(row);
      return id;
    });
  }

  /** Test-side update: sets values and bumps LastModifiedDate / SystemModstamp (unless given). */
  seedUpdate(object: string, id: string, values: Record<string, unknown>): void {
    const table = this.tableOrThrow(object);
    const pos = table.positionOf(normalizeId(id) ?? id);
    const old = pos === undefined ? undefined : table.rows[pos];
    if (pos === undefined || !old) throw new Error(`${table.schema.name} ${id} does not exist`);
    const row = [...old];
    const now = this.now();
    row[table.schema.required('LastModifiedDate').index] = now;
    row[table.schema.required('SystemModstamp').index] = now;
    for (const [name, value] of Object.entries(values)) {
      const field = table.schema.field(name);
      if (!field) throw new Error(`${table.schema.name} has no field ${name}`);
      row[field.index] = seedValue(field, value);
    }
    table.replace(pos, row);
  }

  /** Soft delete, as Salesforce's recycle bin: IsDeleted becomes true and SystemModstamp moves. */
  softDelete(object: string, id: string): void {
    const table = this.tableOrThrow(object);
    const pos = table.positionOf(normalizeId(id) ?? id);
    const old = pos === undefined ? undefined : table.rows[pos];
    if (pos === undefined || !old) throw new Error(`${table.schema.name} ${id} does not exist`);
    const row = [...old];
    row[table.deletedField.index] = true;
    row[table.schema.required('SystemModstamp').index] = this.now();
    table.replace(pos, row);
  }

  /**
   * One record's create / update / upsert through the API: validates like Salesforce and applies it.
   * Throws ApiError for problems that fail the whole request (JSON values of the wrong type).
   */
  write(table: Table, request: WriteRequest): WriteOutcome {
    const { schema } = table;
    const fail = (statusCode: string, message: string, fields: string[] = [], id?: string): WriteOutcome => ({
      ok: false,
      ...(id ? { id } : {}),
      errors: [{ statusCode, message, fields }],
    });

    // 1. Field names and values.
    const given = new Map<FieldDef, unknown>();
    let column = 0;
    for (const [name, raw] of Object.entries(request.values)) {
      column++;
      if (name === 'attributes') continue;
      const field = schema.field(name);
      if (!field) return fail('INVALID_FIELD', `No such column '${name}' on sobject of type ${schema.name}`);
      const converted = convertValue(field, raw, request.format, column);
      if (converted.kind === 'skip') continue;
      if (converted.kind === 'error') return fail(converted.statusCode, converted.message, [field.name]);
      given.set(field, converted.value);
    }

    // 2. Which record: none (insert), an existing one (update), or either (upsert).
    let operation: 'insert' | 'update' = request.operation === 'update' ? 'update' : 'insert';
    let pos: number | undefined;
    const idGiven = given.get(table.idField);
    given.delete(table.idField);
    if (request.operation === 'insert' && idGiven != null) return fail('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
    if (request.operation === 'update' || (request.operation === 'upsert' && request.externalIdField === table.idField)) {
      if (idGiven == null || idGiven === '') {
        if (request.operation === 'update') return fail('MISSING_ARGUMENT', 'Id not specified in an update call');
      } else {
        const found = this.locate(table, String(idGiven));
        if (!found.ok) return fail(found.statusCode, found.message, found.fields);
        pos = found.pos;
        operation = 'update';
      }
    } else if (request.operation === 'upsert' && request.externalIdField) {
      const extField = request.externalIdField;
      const extValue = given.get(extField);
      if (extValue == null || extValue === '') return fail('MISSING_ARGUMENT', `${extField.name} not specified`, [extField.name]);
      const matches = table.findByValue(extField, extValue);
      if (matches.length > 1) {
        const ids = matches.map((p) => table.rows[p]?.[table.idField.index]).join(', ');
        return fail('DUPLICATE_EXTERNAL_ID', `${extField.label}: more than one record found for external id field: [${ids}]`, [extField.name]);
      }
      if (matches.length === 1) {
        pos = matches[0];
        operation = 'update';
      }
    }
    const existing = pos === undefined ? undefined : table.rows[pos];
    const existingId = existing ? (existing[table.idField.index] as string) : undefined;

    // 3. Field-level security: formula and system fields cannot be written.
    const notWritable = [...given.keys()].filter((f) =>
      operation === 'insert' ? !f.createable : !f.updateable && !(request.externalIdField === f && existing && given.get(f) != null),
    );
    if (notWritable.length) {
      const names = notWritable.map((f) => f.name);
      return fail(
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        `Unable to create/update fields: ${names.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        names,
        existingId,
      );
    }

    // 4. Required fields: present on create, never cleared on update.
    const missing = schema.fields.filter((f) => {
      if (f.nillable || f.type === 'boolean' || !f.createable) return false;
      if (operation === 'insert') return !f.defaultedOnCreate && (given.get(f) === undefined || given.get(f) === null);
      return given.has(f) && given.get(f) === null;
    });
    if (missing.length) {
      const names = missing.map((f) => f.name);
      return fail('REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, names, existingId);
    }

    // 5. Unique fields.
    for (const [field, value] of given) {
      if (!field.unique || value === null) continue;
      const clash = table.findByValue(field, value).find((p) => p !== pos);
      if (clash !== undefined) {
        const otherId = table.rows[clash]?.[table.idField.index] as string;
        return fail('DUPLICATE_VALUE', `duplicate value found: ${field.name} duplicates value on record with id: ${otherId}`, [], existingId);
      }
    }

    // 6. Failures the test asked for (validation rules, triggers...).
    if (this.writeFailures) {
      const record: Record<string, unknown> = {};
      if (existingId) record.Id = existingId;
      for (const [field, value] of given) record[field.name] = toJsonValue(field, value);
      const injected = this.writeFailures(schema.name, record);
      if (injected) return fail(injected.statusCode, injected.message, injected.fields ?? [], existingId);
    }

    // 7. Apply.
    const now = this.now();
    const modified = [schema.required('LastModifiedDate'), schema.required('SystemModstamp')];
    if (operation === 'insert') {
      const row: unknown[] = schema.fields.map((f) => (f.defaultedOnCreate ? f.defaultValue : null));
      for (const [field, value] of given) row[field.index] = value;
      const id = this.newId(schema.keyPrefix);
      row[table.idField.index] = id;
      row[table.deletedField.index] = false;
      row[schema.required('CreatedDate').index] = now;
      for (const f of modified) row[f.index] = now;
      table.append(row);
      return { ok: true, id, created: true, undo: () => table.removeLast() };
    }
    const target = pos as number;
    const old = existing as Row;
    const row = [...old];
    for (const [field, value] of given) row[field.index] = value;
    for (const f of modified) row[f.index] = now;
    table.replace(target, row);
    return { ok: true, id: existingId as string, created: false, undo: () => table.replace(target, old) };
  }

  /** Finds a live record by Id for an update, with Salesforce's errors for malformed / missing ones. */
  private locate(
    table: Table,
    rawId: string,
  ): { ok: true; pos: number } | { ok: false; statusCode: string; message: string; fields: string[] } {
    const { schema } = table;
    const id = normalizeId(rawId);
    if (!id || !id.startsWith(schema.keyPrefix)) {
      return { ok: false, statusCode: 'MALFORMED_ID', message: `${schema.label} ID: id value of incorrect type: ${rawId}`, fields: ['Id'] };
    }
    const pos = table.positionOf(id);
    const row = pos === undefined ? undefined : table.rows[pos];
    if (pos === undefined || !row) return { ok: false, statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] };
    if (row[table.deletedField.index]) return { ok: false, statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] };
    return { ok: true, pos };
  }
}

/** A seed value (plain JS) in the stored representation. */
function seedValue(field: FieldDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (field.type === 'datetime') {
    if (value instanceof Date) return value.getTime();
    if (typeof value === 'number') return value;
    const ms = parseDateTime(String(value)) ?? Date.parse(String(value));
    if (Number.isNaN(ms)) throw new Error(`${field.name}: invalid datetime ${String(value)}`);
    return ms;
  }
  if (field.type === 'date' && value instanceof Date) return value.toISOString().slice(0, 10);
  if (Array.isArray(value) && field.type === 'multipicklist') return value.join(';');
  return value;
}

type Converted =
  | { kind: 'value'; value: unknown }
  | { kind: 'skip' }
  | { kind: 'error'; statusCode: string; message: string };

/**
 * A value from the wire in the stored representation, checked like Salesforce checks it.
 * CSV: an empty cell leaves the field alone and #N/A clears it (Bulk API 2.0's rules).
 * JSON: a value of the wrong type fails the whole request with JSON_PARSER_ERROR, as Salesforce does.
 */
function convertValue(field: FieldDef, raw: unknown, format: InputFormat, column: number): Converted {
  if (format === 'csv') {
    if (raw === '' || raw === undefined) return { kind: 'skip' };
    if (raw === '#N/A') return { kind: 'value', value: null };
  } else if (raw === null) {
    return { kind: 'value', value: null };
  }
  const text = typeof raw === 'string' ? raw : undefined;
  const typeError = (): Converted => {
    if (format === 'json') {
      throw new ApiError(
        400,
        'JSON_PARSER_ERROR',
        `Cannot deserialize instance of ${soapType(field.type).replace(/^\w+:/, '')} from VALUE_STRING value ${String(raw)} or request may be missing a required field at [line:1, column:${column}]`,
      );
    }
    return {
      kind: 'error',
      statusCode: 'INVALID_FIELD',
      message: `Failed to deserialize field at col ${column}. Due to, '${String(raw)}' is not a valid value for the type ${soapType(field.type)}`,
    };
  };

  switch (field.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') return { kind: 'value', value: raw };
      const lower = text?.toLowerCase();
      if (lower === 'true' || lower === '1') return { kind: 'value', value: true };
      if (lower === 'false' || lower === '0') return { kind: 'value', value: false };
      return typeError();
    }
    case 'double':
    case 'currency':
    case 'percent':
    case 'int': {
      const n = typeof raw === 'number' ? raw : text !== undefined && text.trim() !== '' ? Number(text) : Number.NaN;
      if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n))) return typeError();
      return { kind: 'value', value: n };
    }
    case 'date': {
      // Bulk also accepts a datetime for a date field and keeps its date part.
      if (text !== undefined && isValidDate(text)) return { kind: 'value', value: text };
      if (text !== undefined && format === 'csv' && parseDateTime(text) !== undefined) return { kind: 'value', value: text.slice(0, 10) };
      return typeError();
    }
    case 'datetime': {
      const ms = text === undefined ? undefined : (parseDateTime(text) ?? (isValidDate(text) ? Date.parse(text) : undefined));
      return ms === undefined ? typeError() : { kind: 'value', value: ms };
    }
    default: {
      if (typeof raw === 'object') return typeError();
      let value = String(raw);
      if (field.type === 'multipicklist') value = value.split(';').map((v) => v.trim()).filter(Boolean).join(';');
      if (field.length && value.length > field.length) {
        return { kind: 'error', statusCode: 'STRING_TOO_LONG', message: `${field.label}: data value too large: ${value} (max length=${field.length})` };
      }
      if (field.type === 'email' && !EMAIL_RE.test(value)) {
        return { kind: 'error', statusCode: 'INVALID_EMAIL_ADDRESS', message: `${field.label}: invalid email address: ${value}` };
      }
      return { kind: 'value', value };
    }
  }
}
