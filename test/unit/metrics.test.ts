import { describe, expect, it } from 'vitest';
import { serviceMetrics } from '../../src/manager/metrics.js';
import { exporterName } from '../../src/manager/mysql-metrics.js';
import type { CounterHistory } from '../../src/manager/core/performance.js';
import type { FailoverRefusal, Snapshot } from '../../src/manager/core/model.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { node, snapshot } from '../helpers/snapshots.js';

/** The metrics' text for a snapshot, over an in-memory store with a history of operations. */
async function textFor(s: Snapshot | null, history: (store: MemoryStore) => void = () => undefined, counters: Record<string, CounterHistory> = {}, refusals: Partial<Record<FailoverRefusal, number>> = {}): Promise<string> {
  const store = new MemoryStore();
  history(store);
  const registry = serviceMetrics({ store, latest: () => s, counterHistory: () => counters, checks: () => ({ looks: 7, pollErrors: 2 }), refusals: () => refusals, version: '9.9.9', service: 'mysql' });
  return registry.text();
}

/** A series' name and its labels, sorted: `a{x="1",y="2"}` whatever the order prom-client printed them in. */
function canonical(series: string): string {
  const m = /^([^{ ]+)(?:\{(.*)\})?$/.exec(series);
  if (!m) return series;
  const labels = (m[2] ?? '').match(/[a-z_]+="[^"]*"/g) ?? [];
  return `${m[1]}{${[...labels].sort().join(',')}}`;
}

/** The value of one series (labels in any order), or null when it is absent. */
function valueOf(text: string, series: string): number | null {
  const want = canonical(series);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    if (canonical(line.slice(0, at)) === want) return Number(line.slice(at + 1));
  }
  return null;
}

describe("the manager's Prometheus metrics", () => {
  it('failover refusals by reason, and each node\'s disk from its last sample', async () => {
    const at = (s: number) => ({ at: new Date(Date.UTC(2026, 10, 29, 12, 0, s)).toISOString(), uptimeSeconds: 10 + s, status: {}, statements: { count: 0, errors: 0, latencyPicoseconds: 0 } });
    const disk = { dataBytes: 1000, freeBytes: 5000, sizeBytes: 8000, binlogBytes: 300, relayLogBytes: 20 };
    const t = await textFor(
      snapshot({ nodes: [node('node-1', 'master', { readOnly: false }), node('node-2', 'replica', { sqlErrno: 1062 })] }),
      undefined,
      { 'node-1': { role: 'master', samples: [at(0), { ...at(1), disk, variables: { max_connections: 151 } }] }, 'node-2': { role: 'replica', samples: [at(0), { ...at(1), disk }] } },
      { blocked: 2, would_lose_transactions: 1 },
    );
    expect(valueOf(t, 'mysql_slave_status_relay_log_space{node="node-2",role="replica",service="mysql"}')).toBe(20);
    expect(valueOf(t, 'mysql_slave_status_relay_log_space{node="node-1",role="master",service="mysql"}')).toBeNull();
    expect(valueOf(t, 'mysql_slave_status_last_errno{node="node-2",role="replica",service="mysql"}')).toBe(1062);
    expect(valueOf(t, 'mysql_global_variables_max_connections{node="node-1",role="master",service="mysql"}')).toBe(151);
    expect(valueOf(t, 'conpaas_failover_refusals_total{reason="blocked",service="mysql"}')).toBe(2);
    expect(valueOf(t, 'conpaas_failover_refusals_total{reason="would_lose_transactions",service="mysql"}')).toBe(1);
    // Every reason has its series from 0, so increase() sees the first refusal of each.
    expect(valueOf(t, 'conpaas_failover_refusals_total{reason="disabled",service="mysql"}')).toBe(0);
    expect(valueOf(t, 'conpaas_node_data_bytes{node="node-1",role="master",service="mysql"}')).toBe(1000);
    expect(valueOf(t, 'conpaas_node_disk_free_bytes{node="node-1",role="master",service="mysql"}')).toBe(5000);
    expect(valueOf(t, 'conpaas_node_disk_size_bytes{node="node-1",role="master",service="mysql"}')).toBe(8000);
    expect(valueOf(t, 'conpaas_node_binlog_bytes{node="node-1",role="master",service="mysql"}')).toBe(300);
    expect(valueOf(t, 'conpaas_node_relay_log_bytes{node="node-1",role="master",service="mysql"}')).toBe(20);
  });

  it('a healthy service: available, healthy, every node up, a lag series per replica, named by id', async () => {
    const t = await textFor(snapshot({ nodes: [node('node-1', 'master', { readOnly: false }), node('node-2', 'replica', { lagSeconds: 0 }), node('node-3', 'replica', { lagSeconds: 3 })] }));
    expect(valueOf(t, 'conpaas_service_available{service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_service_healthy{service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_service_state{state="RUNNING",service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_node_up{node="node-1",role="master",service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_replication_lag_seconds{node="node-3",role="replica",service="mysql"}')).toBe(3);
    expect(valueOf(t, 'conpaas_replication_lag_seconds{node="node-1",role="master",service="mysql"}')).toBeNull();
    expect(valueOf(t, 'conpaas_checks_total{service="mysql"}')).toBe(7);
    expect(valueOf(t, 'conpaas_check_errors_total{kind="agent",service="mysql"}')).toBe(2);
    expect(valueOf(t, 'conpaas_build_info{version="9.9.9",service="mysql"}')).toBe(1);
  });

  it('unknown is no series: a replica that does not replicate has no lag; a node with unknown read_only none', async () => {
    const t = await textFor(snapshot({ nodes: [node('node-1', 'master', { readOnly: false }), node('node-2', 'replica', { lagSeconds: null, ioRunning: 'No', sqlRunning: 'No' }), node('node-3', 'replica', { readOnly: null })] }));
    expect(valueOf(t, 'conpaas_replication_lag_seconds{node="node-2",role="replica",service="mysql"}')).toBeNull();
    expect(valueOf(t, 'conpaas_replication_io_running{node="node-2",role="replica",service="mysql"}')).toBe(0);
    expect(valueOf(t, 'conpaas_node_read_only{node="node-3",role="replica",service="mysql"}')).toBeNull();
    // A replica not replicating is a problem diagnosed: not healthy, still available.
    expect(valueOf(t, 'conpaas_service_healthy{service="mysql"}')).toBe(0);
    expect(valueOf(t, 'conpaas_service_available{service="mysql"}')).toBe(1);
  });

  it('a master down: not available; its node is down', async () => {
    const t = await textFor(snapshot({ nodes: [node('node-1', 'master', { reachable: false, mysqlRunning: false, readOnly: null, failedChecks: 2 }), node('node-2', 'replica')] }));
    expect(valueOf(t, 'conpaas_service_available{service="mysql"}')).toBe(0);
    expect(valueOf(t, 'conpaas_node_up{node="node-1",role="master",service="mysql"}')).toBe(0);
  });

  it('counters and durations from the history of ended operations: only completed failovers count', async () => {
    const t = await textFor(snapshot(), (store) => {
      store.beginOperation('failover', { oldMasterId: 'node-1', automatic: true });
      store.endOperation('done');
      store.beginOperation('failover', { oldMasterId: 'node-2', automatic: true });
      store.endOperation('failed', 'no candidate');
      store.beginOperation('switchover', { oldMasterId: 'node-1', candidateId: 'node-2', maxLagSeconds: 5 });
      store.endOperation('done');
    });
    expect(valueOf(t, 'conpaas_failovers_total{service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_switchovers_total{service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_operation_duration_seconds_count{service="mysql",operation="failover",result="failed"}')).toBe(1);
  });

  it('before the first look: the state from the store, nothing available', async () => {
    const t = await textFor(null);
    expect(valueOf(t, 'conpaas_service_state{state="INIT",service="mysql"}')).toBe(1);
    expect(valueOf(t, 'conpaas_service_available{service="mysql"}')).toBe(0);
  });

  it("re-exports each node's status variables under mysqld_exporter's names, with the node's id", async () => {
    const sample = { at: '2026-11-29T12:00:00.000Z', uptimeSeconds: 100, status: { Queries: 1234, Com_select: 40, Threads_connected: 5, Innodb_rows_read: 99, Rpl_semi_sync_master_clients: 2 }, statements: { count: 0, errors: 0, latencyPicoseconds: 0 } };
    const t = await textFor(snapshot(), () => undefined, { 'node-1': { role: 'master', samples: [sample, sample] } });
    expect(valueOf(t, 'mysql_global_status_queries{service="mysql",node="node-1",role="master"}')).toBe(1234);
    expect(valueOf(t, 'mysql_global_status_commands_total{service="mysql",node="node-1",role="master",command="select"}')).toBe(40);
    expect(valueOf(t, 'mysql_global_status_innodb_row_ops_total{service="mysql",node="node-1",role="master",operation="read"}')).toBe(99);
    expect(valueOf(t, 'conpaas_semi_sync_master_clients{service="mysql",node="node-1"}')).toBe(2);
    expect(t).toContain('# TYPE mysql_global_status_commands_total counter');
  });
});

describe("mysqld_exporter's names for status variables", () => {
  const cases: [string, string, { name: string; value: string } | null, 'counter' | 'gauge'][] = [
    ['Queries', 'mysql_global_status_queries', null, 'gauge'],
    ['Threads_running', 'mysql_global_status_threads_running', null, 'gauge'],
    ['Com_insert', 'mysql_global_status_commands_total', { name: 'command', value: 'insert' }, 'counter'],
    ['Handler_commit', 'mysql_global_status_handlers_total', { name: 'handler', value: 'commit' }, 'counter'],
    ['Innodb_rows_deleted', 'mysql_global_status_innodb_row_ops_total', { name: 'operation', value: 'deleted' }, 'counter'],
    ['Innodb_buffer_pool_pages_free', 'mysql_global_status_buffer_pool_pages', { name: 'state', value: 'free' }, 'gauge'],
    ['Innodb_buffer_pool_pages_flushed', 'mysql_global_status_buffer_pool_page_changes_total', { name: 'operation', value: 'flushed' }, 'counter'],
    ['Innodb_buffer_pool_pages_dirty', 'mysql_global_status_buffer_pool_dirty_pages', null, 'gauge'],
    ['Innodb_buffer_pool_read_requests', 'mysql_global_status_innodb_buffer_pool_read_requests', null, 'gauge'],
    ['Connection_errors_max_connections', 'mysql_global_status_connection_errors_total', { name: 'error', value: 'max_connections' }, 'counter'],
    ['Rpl_semi_sync_master_yes_tx', 'mysql_global_status_rpl_semi_sync_master_yes_tx', null, 'gauge'],
  ];
  for (const [variable, name, label, type] of cases) it(`${variable} → ${name}`, () => expect(exporterName(variable)).toEqual({ name, label, type }));
});
