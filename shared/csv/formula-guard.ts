/**
 * OWASP CSV injection: a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return
 * is written with a leading `'`, so a spreadsheet shows it as text instead of running it.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}
