import type { ManagerApi } from '../protocol/manager-api.js';
import type { Handlers } from '../rpc/server.js';
import { AppError } from '../util/errors.js';
import type { BackupRunner } from './backups.js';
import type { BackupStore } from '../store/backup-store.js';

type BackupMethods = 'backup' | 'list_backups' | 'delete_backup';

/**
 * The manager's backup methods (docs/backups.md): begin a full backup in the background, list
 * the complete ones with the one under way, delete one. Without a runner (a manager built
 * without a backup store) each is refused with WRONG_STATE.
 */
export function backupApi(runner: BackupRunner | null, store: BackupStore | null): Pick<Handlers<ManagerApi>, BackupMethods> {
  const need = (): { runner: BackupRunner; store: BackupStore } => {
    if (!runner || !store) throw new AppError('WRONG_STATE', 'this manager keeps no backups');
    return { runner, store };
  };
  return {
    backup: async () => need().runner.begin(),
    list_backups: async () => {
      const { runner: r, store: s } = need();
      return { backups: await s.list(), running: r.running, last: r.last };
    },
    delete_backup: async (p) => {
      const { runner: r, store: s } = need();
      if (r.running?.id === p.id) throw new AppError('WRONG_STATE', `backup ${p.id} is being taken; it can be deleted once it ends`);
      await s.delete(p.id);
      return { id: p.id };
    },
  };
}
