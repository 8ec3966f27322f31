import type { ManagerApi } from '../protocol/manager-api.js';
import type { Handlers } from '../rpc/server.js';
import { AppError } from '../util/errors.js';
import type { BackupRunner } from './backups.js';

type BackupMethods = 'backup' | 'list_backups' | 'delete_backup';

/**
 * The manager's backup methods (docs/backups.md): begin a full backup in the background, list
 * the complete ones with the one under way, delete one. Without a runner (a manager built
 * without a backup store) each is refused with WRONG_STATE.
 */
export function backupApi(runner: BackupRunner | null): Pick<Handlers<ManagerApi>, BackupMethods> {
  const need = (): BackupRunner => {
    if (!runner) throw new AppError('WRONG_STATE', 'this manager keeps no backups');
    return runner;
  };
  return {
    backup: async () => need().begin(),
    list_backups: async () => {
      const r = need();
      return { backups: await r.list(), running: r.running, last: r.last };
    },
    delete_backup: async (p) => {
      await need().delete(p.id);
      return { id: p.id };
    },
  };
}
