import { rows, scalar, withRoot } from './mysql.js';

/** Waits until the replica behind `replicaSocket` has applied everything the master had written when called. */
export async function waitCaughtUp(masterSocket: string, replicaSocket: string, timeoutSeconds = 600): Promise<void> {
  const pos = String(await withRoot(masterSocket, (c) => scalar(c, 'SELECT @@gtid_binlog_pos')));
  const r = await withRoot(replicaSocket, (c) => scalar(c, 'SELECT MASTER_GTID_WAIT(?, ?)', [pos, timeoutSeconds]));
  if (Number(r) !== 0) throw new Error(`the replica did not reach ${pos} within ${timeoutSeconds} s`);
}

/** Throws when the replica's replication threads report an error or are not running. */
export async function checkReplicating(replicaSocket: string): Promise<void> {
  const st = await withRoot(replicaSocket, (c) => rows(c, 'SHOW SLAVE STATUS'));
  const s = st[0];
  if (!s) throw new Error('the replica has no master configured');
  const err = String(s['Last_SQL_Error'] ?? '') || String(s['Last_IO_Error'] ?? '');
  if (s['Slave_SQL_Running'] !== 'Yes' || err) throw new Error(`replication is not running: ${err || `SQL thread ${String(s['Slave_SQL_Running'])}`}`);
}
