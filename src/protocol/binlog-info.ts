import { parseGtidPosition } from './gtid.js';

/** The files mariadb-backup writes the GTID position of a backup to (10.11's name last). */
export const BINLOG_INFO_FILES = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'] as const;

/**
 * The GTID position a physical backup was taken at. mariadb-backup 10.11 writes it to
 * `xtrabackup_binlog_info` (`<file>\t<offset>\t<gtid list>`); later versions name the file
 * `mariadb_backup_binlog_info`. Returns '' when the master had written no transaction yet;
 * throws for a third field that is not a GTID position.
 */
export function parseBinlogInfo(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const fields = line.split('\t').map((f) => f.trim());
  const gtid = fields[2] ?? '';
  if (!isGtidList(gtid)) throw new Error(`unexpected GTID list in backup info: ${gtid.slice(0, 80)}`);
  return gtid;
}

/** A MariaDB GTID list: `domain-server-seq` items separated by commas ('' is the empty one). */
export function isGtidList(s: string): boolean {
  return parseGtidPosition(s) !== null;
}
