import { propertyNameFromHeader, validatePropertyName } from '../properties/property-names.js';

/** The header names that identify the email column when the import does not name it (API.md). */
const EMAIL_HEADERS = new Set(['email', 'e-mail', 'email address', 'mail']);

export interface ColumnPlan {
  emailIndex: number;
  /** Column index → property name, for every imported column. */
  properties: Array<{ index: number; column: string; property: string }>;
  /** Columns not imported because their name is reserved (e.g. `created_at`) or has no usable characters. */
  ignoredColumns: string[];
}

export class ImportSetupError extends Error {
  override readonly name = 'ImportSetupError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decides which column holds the email and which property each other column feeds:
 * with a `mapping`, only its columns (the email column need not be listed); without one,
 * every column, named by the header rule (`First Name` → `first_name`).
 */
export function planColumns(header: string[], options: { mapping?: Record<string, string>; emailColumn?: string }): ColumnPlan {
  const trimmed = header.map((name) => name.trim());
  const emailIndex = options.emailColumn
    ? trimmed.findIndex((name) => name.toLowerCase() === options.emailColumn!.trim().toLowerCase())
    : trimmed.findIndex((name) => EMAIL_HEADERS.has(name.toLowerCase()));
  if (emailIndex < 0) {
    throw new ImportSetupError(
      'no_email_column',
      options.emailColumn
        ? `the header has no column "${options.emailColumn}" (emailColumn); columns: ${trimmed.join(', ')}`
        : `the header has no email column: name one "email", "e-mail", "email address" or "mail", or set emailColumn; columns: ${trimmed.join(', ')}`,
    );
  }
  const properties: ColumnPlan['properties'] = [];
  const ignoredColumns: string[] = [];
  if (options.mapping) {
    for (const [column, property] of Object.entries(options.mapping)) {
      const index = trimmed.findIndex((name) => name === column.trim());
      if (index < 0) {
        throw new ImportSetupError('mapping_column_missing', `mapping names the column "${column}", which the header does not have; columns: ${trimmed.join(', ')}`);
      }
      if (index !== emailIndex) properties.push({ index, column: trimmed[index]!, property });
    }
  } else {
    const used = new Map<string, string>();
    trimmed.forEach((column, index) => {
      if (index === emailIndex) return;
      const property = propertyNameFromHeader(column);
      // Reserved (the user's own fields) or over 64 characters: not a property; a mapping can name one.
      if (!property || validatePropertyName(property) !== undefined) {
        ignoredColumns.push(column);
        return;
      }
      const earlier = used.get(property);
      if (earlier !== undefined) {
        throw new ImportSetupError('duplicate_property', `the columns "${earlier}" and "${column}" both become the property "${property}"; use a mapping`);
      }
      used.set(property, column);
      properties.push({ index, column, property });
    });
  }
  return { emailIndex, properties, ignoredColumns };
}
