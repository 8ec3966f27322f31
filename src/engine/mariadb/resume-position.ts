import type { Connection } from 'mysql2/promise';
import { formatGtidPosition, laterOf, parseGtidPosition } from '../../protocol/gtid.js';
import { AppError } from '../../util/errors.js';
import { q } from './sql.js';

/**
 * Where a replica's replication resumes, given what its binary log holds (`gtid_binlog_pos`) and
 * what its replication recorded as applied (`gtid_slave_pos`, or `gtid_current_pos` for a server
 * that was a master): per domain, the later of the two.
 *
 * Why: with `log_slave_updates`, `sync_binlog=1` and `innodb_flush_log_at_trx_commit=1`, every
 * transaction in a server's binary log is committed in its engine after crash recovery (MariaDB
 * commits the prepared transactions its binary log names). The recorded position can lag it: a
 * DDL statement commits, and is binlogged, before `mysql.gtid_slave_pos` is written in a
 * transaction of its own, so a replica killed between the two restarts one statement behind and
 * would apply it again, which `gtid_strict_mode` refuses (error 1950, ER_GTID_STRICT_OUT_OF_ORDER)
 * and which would otherwise run twice. Returns the position to set as text ('' when both are
 * empty). Throws INVALID_PARAMS when either is not a GTID position.
 */
export function resumePosition(binlogPos: string, appliedPos: string): string {
  const binlog = parseGtidPosition(binlogPos);
  const applied = parseGtidPosition(appliedPos);
  if (!binlog) throw new AppError('INVALID_PARAMS', `resumePosition: gtid_binlog_pos is not a GTID position: ${binlogPos}`);
  if (!applied) throw new AppError('INVALID_PARAMS', `resumePosition: the applied position is not a GTID position: ${appliedPos}`);
  return formatGtidPosition(laterOf(binlog, applied));
}

/**
 * Sets `gtid_slave_pos` to where replication must resume (`resumePosition` of the server's binary
 * log and `gtid_current_pos`); replication must be stopped. Returns the position before and after
 * (equal when nothing had to move). Throws ENGINE_FAILED when a statement fails.
 */
export async function alignSlavePos(c: Connection): Promise<{ before: string; after: string }> {
  const [r] = await q(c, 'read the GTID positions', 'SELECT @@gtid_binlog_pos AS binlogPos, @@gtid_slave_pos AS slavePos, @@gtid_current_pos AS currentPos');
  const before = String(r!['slavePos'] ?? '');
  const after = resumePosition(String(r!['binlogPos'] ?? ''), String(r!['currentPos'] ?? ''));
  if (after !== before) await q(c, 'set gtid_slave_pos', 'SET GLOBAL gtid_slave_pos = ?', [after]);
  return { before, after };
}

/**
 * Starts replication on a server that was a replica when it stopped (the server runs with
 * `skip_slave_start`), from the position `alignSlavePos` sets. Nothing happens on a server with no
 * master configured. Returns the positions when it started replication, null otherwise. Throws
 * ENGINE_FAILED when a statement fails.
 */
export async function resumeReplication(c: Connection): Promise<{ before: string; after: string } | null> {
  const rows = await q(c, 'read replication status', 'SHOW SLAVE STATUS');
  if (rows.length === 0 || String(rows[0]!['Master_Host'] ?? '') === '') return null;
  const moved = await alignSlavePos(c);
  await q(c, 'start replication', 'START SLAVE');
  return moved;
}
