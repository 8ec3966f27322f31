import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { EngineCounters, EngineReplication, EngineStatus, ReplicaSource } from '../engine.js';
import { alignSlavePos } from './resume-position.js';
import { q } from './sql.js';

/**
 * Every SQL statement the project sends, one function each. User-supplied values travel
 * as placeholders; what is spliced into the text is constant.
 */

/**
 * Seconds between heartbeats from a master: with `slave_net_timeout` at 2 s (my-cnf.ts), a replica
 * notices a silent (dead, frozen or cut-off) master within about 2 s.
 */
export const HEARTBEAT_PERIOD_SECONDS = 0.5;
/** How long (ms) `STOP SLAVE IO_THREAD` may take before the thread's connection is killed instead. */
const STOP_IO_DEADLINE_MS = 500;

/** Seconds between a replica's attempts to reconnect to its master. */
export const CONNECT_RETRY_SECONDS = 1;

const STATUS_VARIABLES = [
  'Questions', 'Queries', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_replace',
  'Com_commit', 'Com_rollback', 'Binlog_commits', 'Handler_commit', 'Handler_rollback',
  'Threads_connected', 'Threads_running', 'Connections', 'Aborted_connects', 'Bytes_received',
  'Bytes_sent', 'Slow_queries', 'Innodb_rows_inserted', 'Innodb_rows_read', 'Innodb_rows_updated',
  'Innodb_rows_deleted', 'Uptime', 'Rpl_semi_sync_master_yes_tx', 'Rpl_semi_sync_master_no_tx',
  'Rpl_semi_sync_master_clients', 'Max_used_connections',
  // InnoDB basics (mysqld_exporter's names: buffer_pool_pages{state}, buffer_pool_dirty_pages, …).
  'Innodb_buffer_pool_pages_data', 'Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_free', 'Innodb_buffer_pool_pages_misc',
  'Innodb_buffer_pool_read_requests', 'Innodb_buffer_pool_reads', 'Innodb_buffer_pool_write_requests', 'Innodb_data_read',
  'Innodb_data_written', 'Innodb_row_lock_waits', 'Innodb_row_lock_current_waits', 'Innodb_log_waits',
];

/** Server variables sampled with the counters (mysqld_exporter's `mysql_global_variables_<name>`). */
const COUNTED_VARIABLES = ['max_connections', 'innodb_buffer_pool_size'];

/** performance_schema's event names of the statements counted as reads (the console's read/write mix). */
const READ_EVENTS = ['statement/sql/select'];
/** … and as writes. */
const WRITE_EVENTS = ['insert', 'insert_select', 'update', 'update_multi', 'delete', 'delete_multi', 'replace', 'replace_select'].map((s) => `statement/sql/${s}`);

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** MariaDB's `mysql_native_password` hash, so a plain password never reaches the server's
 * binary log, process list or replicas. */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

/** Answers once the server takes statements. */
export async function ping(c: Connection): Promise<void> {
  await q(c, 'ping', 'SELECT 1');
}

/** server_id, read_only, the GTID positions and `SHOW SLAVE STATUS`. */
export async function readStatus(c: Connection): Promise<EngineStatus> {
  const [v] = await q(
    c,
    'read status',
    'SELECT @@server_id AS serverId, @@read_only AS readOnly, @@gtid_binlog_pos AS binlogPos, @@gtid_slave_pos AS slavePos, @@gtid_current_pos AS currentPos, @@rpl_semi_sync_master_wait_no_slave AS waitNoSlave',
  );
  const rows = await q(c, 'read replication status', 'SHOW SLAVE STATUS');
  return {
    serverId: Number(v!['serverId']),
    readOnly: Number(v!['readOnly']) === 1,
    waitNoSlave: Number(v!['waitNoSlave']) === 1,
    gtid: { binlogPos: String(v!['binlogPos']), slavePos: String(v!['slavePos']), currentPos: String(v!['currentPos']) },
    replication: rows[0] ? replicationOf(rows[0]) : null,
  };
}

function replicationOf(r: RowDataPacket): EngineReplication {
  const lag = r['Seconds_Behind_Master'] as number | null;
  return {
    masterHost: String(r['Master_Host'] ?? ''),
    masterPort: Number(r['Master_Port'] ?? 0),
    masterUser: String(r['Master_User'] ?? ''),
    ioRunning: String(r['Slave_IO_Running'] ?? 'No'),
    sqlRunning: String(r['Slave_SQL_Running'] ?? 'No'),
    secondsBehindMaster: lag === null || lag === undefined ? null : Number(lag),
    gtidIoPos: String(r['Gtid_IO_Pos'] ?? ''),
    lastIoError: String(r['Last_IO_Error'] ?? ''),
    lastIoErrno: Number(r['Last_IO_Errno'] ?? 0),
    lastSqlError: String(r['Last_SQL_Error'] ?? ''),
    lastSqlErrno: Number(r['Last_SQL_Errno'] ?? 0),
  };
}

/** The replicas connected to this master, where they serve (`SHOW SLAVE HOSTS`, from their report_host and report_port); those that report no address are left out. */
export async function connectedReplicas(c: Connection): Promise<{ host: string; port: number }[]> {
  const rows = await q(c, 'list connected replicas', 'SHOW SLAVE HOSTS');
  return rows.map((r) => ({ host: String(r['Host'] ?? ''), port: Number(r['Port'] ?? 0) })).filter((r) => r.host !== '' && r.port > 0);
}

/** `SET GLOBAL rpl_semi_sync_master_wait_no_slave`: whether commits wait for a replica's acknowledgement even when none is connected. */
export async function setWaitNoSlave(c: Connection, on: boolean): Promise<void> {
  await q(c, 'set rpl_semi_sync_master_wait_no_slave', on ? 'SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON' : 'SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF');
  if (on) return;
  // Commits already waiting for an acknowledgement keep waiting (up to rpl_semi_sync_master_timeout)
  // after wait_no_slave goes OFF; switching semi-sync off and on again releases them (measured on
  // 10.11: they complete at once). Only with no replica connected: none could acknowledge them.
  const [clients] = await q(c, 'count semi-sync replicas', "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
  if (Number(clients?.['Value'] ?? 0) > 0) return;
  await q(c, 'release waiting commits', 'SET GLOBAL rpl_semi_sync_master_enabled = OFF');
  await q(c, 'enable semi-sync again', 'SET GLOBAL rpl_semi_sync_master_enabled = ON');
}

/** The server's `max_connections`. */
export async function maxConnections(c: Connection): Promise<number> {
  const [r] = await q(c, 'read max_connections', 'SELECT @@max_connections AS n');
  return Number(r!['n']);
}

/** `SET GLOBAL read_only`. */
export async function setReadOnly(c: Connection, readOnly: boolean): Promise<void> {
  await q(c, 'set read_only', readOnly ? 'SET GLOBAL read_only = 1' : 'SET GLOBAL read_only = 0');
}

/**
 * Points the server at a master. Without an explicit position the server continues from
 * everything it already holds, its own binary log included (`alignSlavePos`): what a demoted
 * master needs, and a replica whose recorded position lags its binary log after a crash.
 */
export async function changeMaster(c: Connection, source: ReplicaSource, gtidSlavePos?: string): Promise<void> {
  await q(c, 'stop replication', 'STOP SLAVE');
  await setReadOnly(c, true);
  if (gtidSlavePos !== undefined) {
    await q(c, 'set gtid_slave_pos', 'SET GLOBAL gtid_slave_pos = ?', [gtidSlavePos]);
  } else {
    await alignSlavePos(c);
  }
  await q(
    c,
    'change master',
    `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = ${CONNECT_RETRY_SECONDS}, MASTER_HEARTBEAT_PERIOD = ${HEARTBEAT_PERIOD_SECONDS}`,
    [source.host, source.port, source.user, source.password],
  );
  await q(c, 'start replication', 'START SLAVE');
}

/** `STOP SLAVE IO_THREAD`: nothing more is received; the relay log is still applied. */
export async function stopReplicaIo(c: Connection): Promise<void> {
  await q(c, 'stop the replication IO thread', 'STOP SLAVE IO_THREAD', [], STOP_IO_DEADLINE_MS);
}

/**
 * Ends the replication IO thread by killing its connection: for an IO thread stuck reading from a
 * master that does not answer, when `STOP SLAVE IO_THREAD` did not return in time (the connection
 * that sent it is gone: use another one).
 */
export async function killReplicaIo(c: Connection): Promise<void> {
  const rows = await q(c, 'find the replication IO thread', "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'");
  for (const r of rows) await q(c, 'end the replication IO thread', 'KILL ?', [Number(r['ID'])]);
}

/** Stops and forgets replication (`RESET SLAVE ALL`), then makes the server writable. */
export async function promote(c: Connection): Promise<void> {
  await q(c, 'stop replication', 'STOP SLAVE');
  await q(c, 'forget master', 'RESET SLAVE ALL');
  await setReadOnly(c, false);
}

/** `MASTER_GTID_WAIT`: true once the server applied `gtid`, false after `timeoutSeconds`. */
export async function waitForGtid(c: Connection, gtid: string, timeoutSeconds: number): Promise<boolean> {
  const [r] = await q(c, 'wait for GTID', 'SELECT MASTER_GTID_WAIT(?, ?) AS r', [gtid, timeoutSeconds], timeoutSeconds * 1000 + 5000);
  return Number(r!['r']) === 0;
}

/** Selected global status values and the client statement summary (performance_schema), root and `ignoreUsers` left out. */
export async function readCounters(c: Connection, ignoreUsers: readonly string[]): Promise<EngineCounters> {
  const rows = await q(c, 'read global status', 'SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [STATUS_VARIABLES]);
  const status: Record<string, number> = {};
  for (const r of rows) {
    const n = Number(r['Value']);
    if (Number.isFinite(n)) status[String(r['Variable_name'])] = n;
  }
  // Statements of clients only: the agent's own (root), background threads (no user) and the
  // accounts the caller names (replication) are left out.
  const [s] = await q(
    c,
    'read statement summary',
    'SELECT COALESCE(SUM(COUNT_STAR), 0) AS n, COALESCE(SUM(SUM_ERRORS), 0) AS errors, COALESCE(SUM(SUM_TIMER_WAIT), 0) AS latency, ' +
      'COALESCE(SUM(IF(EVENT_NAME IN (?), COUNT_STAR, 0)), 0) AS reads_, COALESCE(SUM(IF(EVENT_NAME IN (?), COUNT_STAR, 0)), 0) AS writes_ ' +
      'FROM performance_schema.events_statements_summary_by_user_by_event_name WHERE USER IS NOT NULL AND USER NOT IN (?)',
    [READ_EVENTS, WRITE_EVENTS, ['root', ...ignoreUsers]],
  );
  const latencyHistogram = await readLatencyHistogram(c);
  const [v] = await q(c, 'read variables', `SELECT @@version AS version, ${COUNTED_VARIABLES.map((n) => `@@${n} AS ${n}`).join(', ')}`);
  const variables = Object.fromEntries(COUNTED_VARIABLES.map((n) => [n, Number(v![n])]).filter(([, x]) => Number.isFinite(x)));
  return {
    uptimeSeconds: status['Uptime'] ?? 0,
    status,
    variables,
    serverVersion: String(v!['version']),
    statements: { count: Number(s!['n']), errors: Number(s!['errors']), latencyPicoseconds: Number(s!['latency']), reads: Number(s!['reads_']), writes: Number(s!['writes_']) },
    ...(latencyHistogram ? { latencyHistogram } : {}),
  };
}

/**
 * The statement latency histogram of the query_response_time plugin (its bucket bounds in
 * seconds, `TOO LONG` as null, and the statements in each), or undefined when the plugin is not
 * loaded. It counts every statement, the agent's own included (MariaDB 10.11 has no filter).
 */
async function readLatencyHistogram(c: Connection): Promise<Array<{ upperSeconds: number | null; count: number }> | undefined> {
  try {
    const rows = await q(c, 'read the latency histogram', 'SELECT TRIM(TIME) AS bound, COUNT AS n FROM information_schema.QUERY_RESPONSE_TIME');
    return rows.map((r) => {
      const bound = Number(String(r['bound']));
      return { upperSeconds: Number.isFinite(bound) ? bound : null, count: Number(r['n']) };
    });
  } catch {
    return undefined;
  }
}

/** The databases that are not the server's own, by name. */
export async function userDatabases(c: Connection): Promise<string[]> {
  const rows = await q(c, 'list databases', 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY SCHEMA_NAME', [SYSTEM_SCHEMAS]);
  return rows.map((r) => String(r['name']));
}

/** Drops an application database, through the binary log (a failed load's leftovers). */
export async function dropDatabase(c: Connection, name: string): Promise<void> {
  await q(c, 'drop a database', `DROP DATABASE IF EXISTS \`${name.replace(/`/g, '``')}\``);
}

/** `CHECKSUM TABLE` of every base table of these databases: `db.table` → checksum (null when the server gives none). */
export async function checksumTables(c: Connection, schemas: readonly string[]): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  if (schemas.length === 0) return out;
  const tables = await q(c, 'list tables', "SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) ORDER BY 1, 2", [schemas]);
  for (const r of tables) {
    const name = `\`${String(r['db']).replace(/`/g, '``')}\`.\`${String(r['t']).replace(/`/g, '``')}\``;
    const [row] = await q(c, 'checksum a table', `CHECKSUM TABLE ${name}`);
    const v = row?.['Checksum'];
    out[`${String(r['db'])}.${String(r['t'])}`] = v === null || v === undefined ? null : Number(v);
  }
  return out;
}

/**
 * Makes a server restored from a backup continue the GTID history the backup holds: its binary
 * log starts empty (`RESET MASTER`), with `gtid_binlog_state` and `gtid_slave_pos` at `gtid`, so
 * the transactions replayed next, and its own writes later, take the sequence numbers that follow
 * (gtid_strict_mode). Throws ENGINE_FAILED when a statement fails.
 */
export async function adoptGtidPosition(c: Connection, gtid: string): Promise<void> {
  await q(c, 'stop replication', 'STOP SLAVE');
  await q(c, 'forget any master', 'RESET SLAVE ALL');
  await q(c, 'empty the binary log', 'RESET MASTER');
  await q(c, 'set gtid_binlog_state', 'SET GLOBAL gtid_binlog_state = ?', [gtid]);
  await q(c, 'set gtid_slave_pos', 'SET GLOBAL gtid_slave_pos = ?', [gtid]);
}
