import type { ManagerApi } from '../protocol/manager-api.js';
import type { Handlers } from '../rpc/server.js';
import { AppError } from '../util/errors.js';
import type { BackupRunner } from './backups.js';
import type { BackupSchedule } from './backup-schedule.js';

type BackupMethods = 'backup' | 'list_backups' | 'delete_backup' | 'set_backup_policy';

/**
 * The manager's backup methods (docs/backups.md): begin a full backup in the background, list
 * the complete ones with the one under way and the policy, delete one, set the schedule and
 * retention. Without a runner (a manager built without a backup store) each is refused with
 * WRONG_STATE.
 */
export function backupApi(runner: BackupRunner | null, schedule: BackupSchedule | null): Pick<Handlers<ManagerApi>, BackupMethods> {
  const need = (): BackupRunner => {
    if (!runner) throw new AppError('WRONG_STATE', 'this manager keeps no backups');
    return runner;
  };
  const policy = (): BackupSchedule => {
    if (!schedule) throw new AppError('WRONG_STATE', 'this manager keeps no backups');
    return schedule;
  };
  return {
    backup: async (p) => need().begin({ incremental: p.incremental ?? false }),
    list_backups: async () => {
      const r = need();
      return { backups: await r.list(), running: r.running, last: r.last, policy: policy().policy };
    },
    set_backup_policy: async (p) => policy().set(p),
    delete_backup: async (p) => {
      await need().delete(p.id);
      return { id: p.id };
    },
  };
}
