import { hostTemplate } from '../engine/mariadb/host-template.js';
import { messageOf } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { OsUser } from '../util/os-user.js';

/**
 * Makes the data-directory template of the local cloud's host (the manager's own machine) when
 * the manager starts, unless it is whole already or being made: the first service's nodes then
 * copy it instead of waiting for `mariadb-install-db` (issue #17, the cold start). `root` is the
 * directory the local cloud's agents are given as `--template-dir`; `dbUser` the OS user the
 * servers run as. Resolves once done; never rejects (a failure is logged once, as a warning:
 * each new server then makes its own data directory, as without a template).
 */
export async function warmUpHostTemplate(root: string, dbUser: OsUser, logger: Logger): Promise<void> {
  try {
    const template = hostTemplate(root, dbUser);
    if (template.ready) return;
    const started = Date.now();
    if (await template.prepare()) {
      // madeIn 'disk' with a ramError: /dev/shm could not be used, and every new host's first service pays for it (docs/agent.md).
      logger.info({ root, ms: Date.now() - started, madeIn: template.madeIn, ...(template.ramError !== null ? { ramError: template.ramError } : {}) }, 'data-directory template made');
    }
  } catch (err) {
    logger.warn({ root, err: messageOf(err) }, 'cannot make the data-directory template; new servers run mariadb-install-db');
  }
}
