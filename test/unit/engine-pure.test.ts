import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGtidList, parseBinlogInfo } from '../../src/protocol/binlog-info.js';
import { layoutOf } from '../../src/engine/mariadb/layout.js';
import { renderMyCnf } from '../../src/engine/mariadb/my-cnf.js';
import { nativePasswordHash } from '../../src/engine/mariadb/statements.js';
import { resumePosition } from '../../src/engine/mariadb/resume-position.js';
import { VERSION } from '../../src/version.js';

describe('backup GTID position', () => {
  const cases: Array<[string, string, string]> = [
    ['10.11 file with one domain', 'mariadb-bin.000003\t1234\t0-1-42\n', '0-1-42'],
    ['several domains', 'mariadb-bin.000003\t1234\t0-1-42,1-2-7\n', '0-1-42,1-2-7'],
    ['a master that wrote nothing yet', 'mariadb-bin.000001\t328\t\n', ''],
    ['leading blank line', '\nmariadb-bin.000009\t5\t0-3-9', '0-3-9'],
  ];
  for (const [name, text, gtid] of cases) {
    it(`reads ${name}`, () => expect(parseBinlogInfo(text)).toBe(gtid));
  }
  it('refuses a GTID list it does not understand', () => {
    expect(() => parseBinlogInfo("f\t1\t0-1-2'; DROP TABLE x")).toThrow(/unexpected GTID/);
  });
  it('recognises GTID lists', () => {
    expect(isGtidList('0-1-2')).toBe(true);
    expect(isGtidList('0-1-2,3-4-5')).toBe(true);
    expect(isGtidList('0-1')).toBe(false);
    expect(isGtidList('a-b-c')).toBe(false);
  });
});

describe('where a replica resumes', () => {
  const cases: Array<[string, string, string, string]> = [
    ['recorded position equal to the binary log', '0-1-42', '0-1-42', '0-1-42'],
    ['recorded position one DDL behind (killed between commit and gtid_slave_pos)', '0-1-42', '0-1-41', '0-1-42'],
    ['nothing recorded, binary log holds transactions', '0-1-7', '', '0-1-7'],
    ['a demoted master: its own writes are ahead', '0-2-50', '0-1-40', '0-2-50'],
    ['recorded ahead of the binary log (binary log purged / reset)', '0-1-3', '0-1-9', '0-1-9'],
    ['several domains, each the later', '0-1-5,1-3-9', '0-1-7,1-3-2', '0-1-7,1-3-9'],
    ['a domain only in the binary log', '0-1-5,2-1-4', '0-1-5', '0-1-5,2-1-4'],
    ['both empty', '', '', ''],
  ];
  for (const [name, binlog, applied, want] of cases) {
    it(name, () => expect(resumePosition(binlog, applied)).toBe(want));
  }
  it('names the position it cannot read', () => {
    expect(() => resumePosition('0-1', '0-1-2')).toThrow(/gtid_binlog_pos/);
    expect(() => resumePosition('0-1-2', 'x')).toThrow(/applied position/);
  });
});

describe('option file', () => {
  const layout = layoutOf('/srv/node-1');
  const cnf = renderMyCnf(layout, {
    host: '127.0.0.2',
    port: 3307,
    serverId: 12,
    osUser: 'cps-mysql',
    innodbBufferPoolSize: '256M',
    maxConnections: 50,
    parallelReplicationThreads: 4,
    slaveNetTimeout: 4,
    semiSyncTimeoutMs: 5000,
  });
  const lines = new Set(cnf.split('\n'));
  const required = [
    'user=cps-mysql',
    'local_infile=OFF',
    'datadir=/srv/node-1/data',
    'socket=/srv/node-1/run/mysqld.sock',
    'pid_file=/srv/node-1/run/mysqld.pid',
    'bind_address=127.0.0.2',
    'port=3307',
    'server_id=12',
    'binlog_format=ROW',
    'gtid_strict_mode=ON',
    'log_slave_updates=ON',
    'read_only=ON',
    'skip_slave_start=ON',
    'innodb_flush_log_at_trx_commit=1',
    'skip_name_resolve=ON',
    'innodb_buffer_pool_size=256M',
    'max_connections=50',
    'slave_parallel_threads=4',
    'slave_net_timeout=4',
    'performance_schema=ON',
    'sync_binlog=1',
    'rpl_semi_sync_master_enabled=ON',
    'rpl_semi_sync_slave_enabled=ON',
    'rpl_semi_sync_master_wait_point=AFTER_SYNC',
    'rpl_semi_sync_master_timeout=5000',
    'log_bin_trust_function_creators=ON',
    'event_scheduler=OFF',
    'plugin_load_add=query_response_time',
    'loose_query_response_time_stats=ON',
  ];
  for (const l of required) it(`sets ${l}`, () => expect(lines.has(l)).toBe(true));
});

describe('layout', () => {
  it('keeps every file below the node directory', () => {
    const l = layoutOf('/x/n');
    for (const p of [l.cnf, l.data, l.socket, l.pidFile, l.errorLog, l.tmp]) expect(p.startsWith('/x/n/')).toBe(true);
  });
  it('refuses a directory whose socket path would be too long', () => {
    expect(() => layoutOf(`/${'d'.repeat(120)}`)).toThrow(/too deep/);
  });
});

describe('password hash', () => {
  it("matches MariaDB's PASSWORD() for known values", () => {
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });
});

describe('version', () => {
  it('equals the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
