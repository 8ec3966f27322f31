import { chmod, writeFile } from 'node:fs/promises';
import type { Layout } from './layout.js';

/** What the option file of one instance is written from. */
export interface InstanceConfig {
  /** `bind_address`. */
  host: string;
  /** `port`. */
  port: number;
  /** `server_id`. */
  serverId: number;
  /** The OS user mariadbd switches to when started as root; null to stay who started it. */
  osUser: string | null;
  /** InnoDB buffer pool, as MariaDB takes it (`128M`). */
  innodbBufferPoolSize: string;
  /** `max_connections`. */
  maxConnections: number;
  /** Threads that apply replicated transactions in parallel on a replica. */
  parallelReplicationThreads: number;
  /** Seconds without data or heartbeat before a replica declares its master lost. */
  slaveNetTimeout: number;
  /** How long a commit on the master waits for a replica's acknowledgement before going asynchronous. */
  semiSyncTimeoutMs: number;
}

/** Settings every instance has (those chosen per node are DEFAULT_SERVER_SETTINGS, engine.ts). */
export const INSTANCE_CONSTANTS = {
  parallelReplicationThreads: 4,
  /** Seconds of silence after which a replica gives its master up (heartbeats come every 0.5 s). */
  slaveNetTimeout: 2,
} as const;

/**
 * The whole option file of one instance. It is read with `--defaults-file`, so nothing
 * from /etc/mysql applies. Every instance starts read-only: only the manager, through
 * `configure_master` or `promote`, makes a server writable, so a master that crashed and came
 * back can never take writes on its own.
 */
export function renderMyCnf(layout: Layout, c: InstanceConfig): string {
  const lines = [
    '# Written by cps-mysql agent; rewritten on every start. Do not edit.',
    '[client]',
    `socket=${layout.socket}`,
    `port=${c.port}`,
    '',
    '[mariadbd]',
    ...(c.osUser !== null ? [`user=${c.osUser}`] : []),
    `datadir=${layout.data}`,
    `socket=${layout.socket}`,
    `pid_file=${layout.pidFile}`,
    `log_error=${layout.errorLog}`,
    `tmpdir=${layout.tmp}`,
    `secure_file_priv=${layout.tmp}`,
    '# no client may make the server read a file of the client host',
    'local_infile=OFF',
    `bind_address=${c.host}`,
    `port=${c.port}`,
    '# replicas tell their master where they serve (SHOW SLAVE HOSTS): a master checks it is not cut off from all of them',
    `report_host=${c.host}`,
    `report_port=${c.port}`,
    `server_id=${c.serverId}`,
    'skip_name_resolve=ON',
    'character_set_server=utf8mb4',
    'collation_server=utf8mb4_general_ci',
    `max_connections=${c.maxConnections}`,
    'max_allowed_packet=64M',
    '',
    '# durability: nothing acknowledged is lost on a crash',
    'innodb_flush_log_at_trx_commit=1',
    'sync_binlog=1',
    `innodb_buffer_pool_size=${c.innodbBufferPoolSize}`,
    '',
    '# replication with GTIDs',
    'log_bin=mariadb-bin',
    'log_bin_index=mariadb-bin.index',
    'relay_log=relay-bin',
    'relay_log_index=relay-bin.index',
    'binlog_format=ROW',
    'log_slave_updates=ON',
    'gtid_domain_id=0',
    'gtid_strict_mode=ON',
    'binlog_expire_logs_seconds=604800',
    'read_only=ON',
    '# the agent starts replication itself, once it has checked where it resumes (resume-position.ts)',
    'skip_slave_start=ON',
    `slave_net_timeout=${c.slaveNetTimeout}`,
    `slave_parallel_threads=${c.parallelReplicationThreads}`,
    'slave_parallel_mode=optimistic',
    '# functions and triggers by the service user (no SUPER) with the binary log on, as RDS users set it',
    'log_bin_trust_function_creators=ON',
    '# events run on the master only: the agent switches the scheduler on when it makes it the master',
    'event_scheduler=OFF',
    '',
    '# lossless semi-synchronous replication: a commit is acknowledged only once a replica has',
    '# it (AFTER_SYNC); with no replica connected at all, commits do not wait',
    'rpl_semi_sync_master_enabled=ON',
    'rpl_semi_sync_slave_enabled=ON',
    'rpl_semi_sync_master_wait_point=AFTER_SYNC',
    'rpl_semi_sync_master_wait_no_slave=OFF',
    `rpl_semi_sync_master_timeout=${c.semiSyncTimeoutMs}`,
    '',
    '# statement latency and errors for the service metrics; the latency histogram (p95) from the',
    '# query_response_time plugin (shipped with mariadb-server), in buckets of powers of 2',
    'performance_schema=ON',
    'plugin_load_add=query_response_time',
    'loose_query_response_time_stats=ON',
    'loose_query_response_time_range_base=2',
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes an option file, mode 0644 whatever the process's umask: MariaDB's programs read it as
 * the database's OS user, and it holds no secret.
 */
export async function writeOptionFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o644 });
  await chmod(path, 0o644);
}
