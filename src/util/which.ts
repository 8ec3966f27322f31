import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian puts server programs, which a user's PATH may lack. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin'];

/** The full path of a program, looked up in PATH and the sbin directories; the bare name if not found. */
export function which(program: string): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), ...EXTRA_DIRS]) {
    if (!dir) continue;
    const p = join(dir, program);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return program;
}
