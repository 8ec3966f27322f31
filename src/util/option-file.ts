/**
 * A value for a MariaDB option file: double-quoted, with the escapes its reader undoes
 * (mysys `my_default.c`), so any password reads back as it was.
 */
export function optionFileValue(value: string): string {
  const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return `"${escaped}"`;
}
