import { serverSettings } from '../engine.js';
import { currentOsUser, type OsUser } from '../../util/os-user.js';
import { DatadirTemplate } from './datadir-template.js';
import { INSTANCE_CONSTANTS, renderMyCnf } from './my-cnf.js';
import { ramScratchRoot } from './ram-scratch.js';

/**
 * A host's data-directory template under `root`, made with the option file of a node with the
 * default settings (datadir-template.ts). The address and port in it are placeholders:
 * `mariadb-install-db` runs the server with no network, and nothing of them is kept in the data
 * directory. Every maker of a host's template (its agents, the local cloud's manager) uses this,
 * so all make the same one. `dbUser` is the OS user the servers run as; `scratch`, where to make
 * it in RAM first (the default: /dev/shm when it has room; see DatadirTemplate).
 * Throws when `mariadbd` cannot be found (the template is named after its build).
 */
export function hostTemplate(root: string, dbUser: OsUser, scratch: () => string | null = ramScratchRoot): DatadirTemplate {
  const settings = serverSettings(1, {});
  return new DatadirTemplate(root, dbUser, (layout) =>
    renderMyCnf(layout, {
      host: '127.0.0.1',
      port: 3306,
      serverId: settings.serverId,
      osUser: currentOsUser().uid === 0 ? dbUser.name : null,
      innodbBufferPoolSize: settings.innodbBufferPoolSize,
      maxConnections: settings.maxConnections,
      parallelReplicationThreads: INSTANCE_CONSTANTS.parallelReplicationThreads,
      slaveNetTimeout: INSTANCE_CONSTANTS.slaveNetTimeout,
      semiSyncTimeoutMs: settings.semiSyncTimeoutMs,
    }),
    scratch,
  );
}
