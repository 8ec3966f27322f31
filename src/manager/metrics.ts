import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StateStore } from '../store/store.js';
import { diagnoseMaster } from './core/diagnose.js';
import { FAILOVER_REFUSALS, masterOf, type FailoverRefusal, type Snapshot } from './core/model.js';
import { servicePerformance, type CounterHistory } from './core/performance.js';
import { diagnoseReplica } from './core/replicas.js';
import { exporterName } from './mysql-metrics.js';

/** What the manager's metrics are read from, at each scrape. */
export interface MetricsSources {
  /** The registry and the history of ended operations (failovers, switchovers, their durations). */
  store: StateStore;
  /** The loop's last look at the service, or null before the first. */
  latest: () => Snapshot | null;
  /** Each node's counter samples (the performance figures). */
  counterHistory: () => Record<string, CounterHistory>;
  /** Looks the loop took, and agent polls that failed, since the manager started. */
  checks: () => { looks: number; pollErrors: number };
  /** Failovers refused or held back since the manager started, by reason (the loop's count). */
  refusals: () => Partial<Record<FailoverRefusal, number>>;
  /** This build's version (`conpaas_build_info`). */
  version: string;
  /** The backups and the archive (null or absent: none kept): complete backups, the newest one's end (s since the epoch), how far the recoverable window is behind now (s). */
  backups?: (() => Promise<{ count: number; newestEnd: number | null; windowBehind: number | null }>) | null;
  /** The `service` label every series carries. */
  service: string;
}

/** The manager's metrics: the registry, and the text a scrape answers (the nodes' MariaDB figures refreshed first). */
export interface ServiceMetrics {
  /** Every metric. */
  registry: Registry;
  /** The Prometheus text format's content type. */
  contentType: string;
  /** What a scrape answers. */
  text(): Promise<string>;
}

/** Buckets of `conpaas_operation_duration_seconds`, seconds: a switchover takes about a second, a provisioning minutes. */
const DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The manager's Prometheus metrics (docs/metrics.md, "Prometheus"), `conpaas_` prefixed, in base
 * units, `_total` for counters, labels `service`, `node` (the node id, never an address), `role`.
 * Nothing is kept apart from what the manager keeps anyway: every value is read at scrape time
 * from the loop's last snapshot and the store (counters and the histogram from the history of
 * ended operations, so they survive a restart of the manager). A gauge whose value is unknown
 * (a replica's lag while it does not replicate) has no series, rather than a made-up 0.
 */
export function serviceMetrics(src: MetricsSources): ServiceMetrics {
  const registers = [new Registry()];
  const registry = registers[0]!;
  registry.setDefaultLabels({ service: src.service });
  const snap = (): Snapshot | null => src.latest();

  if (src.backups) {
    const read = src.backups;
    new Gauge({ name: 'conpaas_backups', help: 'Complete backups in the store.', registers, async collect() {
      this.set((await read()).count);
    } });
    new Gauge({ name: 'conpaas_backup_last_end_timestamp_seconds', help: 'When the newest complete backup ended (s since the epoch); no series without one.', registers, async collect() {
      this.reset();
      const end = (await read()).newestEnd;
      if (end !== null) this.set(end);
    } });
    new Gauge({ name: 'conpaas_recoverable_seconds_behind', help: 'How far the last recoverable time (the binary log archive\'s last catch-up) is behind now, seconds; no series while nothing is archived.', registers, async collect() {
      this.reset();
      const behind = (await read()).windowBehind;
      if (behind !== null) this.set(behind);
    } });
  }
  new Gauge({ name: 'conpaas_build_info', help: 'The manager build, as a label; always 1.', labelNames: ['version'], registers, collect() {
    this.reset();
    this.set({ version: src.version }, 1);
  } });
  new Gauge({ name: 'conpaas_service_state', help: 'The service state (INIT, PROLOGUE, RUNNING, ADAPTING, EPILOGUE, STOPPED, ERROR): one series, value 1.', labelNames: ['state'], registers, collect() {
    this.reset();
    this.set({ state: snap()?.state ?? src.store.service()?.state ?? 'INIT' }, 1);
  } });
  new Gauge({ name: 'conpaas_service_available', help: 'Whether a writable master answers (1) or not (0).', registers, collect() {
    const m = snap() ? masterOf(snap()!.nodes) : undefined;
    this.set(m && m.status === 'ready' && m.reachable && m.mysqlRunning && m.readOnly === false ? 1 : 0);
  } });
  new Gauge({ name: 'conpaas_service_healthy', help: 'Whether the service runs with nothing diagnosed: its master healthy and every replica healthy (1), or not (0).', registers, collect() {
    const s = snap();
    const m = s ? masterOf(s.nodes) : undefined;
    const healthy =
      s !== null && s.state === 'RUNNING' && m !== undefined && diagnoseMaster(s).name === 'MasterHealthy' &&
      s.nodes.filter((n) => n.role === 'replica' && n.status === 'ready').every((n) => diagnoseReplica(n, m.id).name === 'ReplicaHealthy');
    this.set(healthy ? 1 : 0);
  } });
  new Gauge({ name: 'conpaas_nodes', help: 'Nodes in the registry, by role and status.', labelNames: ['role', 'status'], registers, collect() {
    this.reset();
    const counts = new Map<string, number>();
    for (const n of src.store.nodes()) counts.set(`${n.role}\u0000${n.status}`, (counts.get(`${n.role}\u0000${n.status}`) ?? 0) + 1);
    for (const [k, v] of counts) {
      const [role, status] = k.split('\u0000');
      this.set({ role: role!, status: status! }, v);
    }
  } });
  const perNode = (name: string, help: string, value: (n: Snapshot['nodes'][number]) => number | null, replicasOnly = false): void => {
    new Gauge({ name, help, labelNames: ['node', 'role'], registers, collect() {
      this.reset();
      for (const n of snap()?.nodes ?? []) {
        if (replicasOnly && n.role !== 'replica') continue;
        const v = value(n);
        if (v !== null) this.set({ node: n.id, role: n.role }, v);
      }
    } });
  };
  // The nodes' MariaDB figures under mysqld_exporter's names, re-exported with a `node` label.
  perNode('mysql_up', 'Whether the node\'s mariadbd answers its agent (mysqld_exporter\'s name).', (n) => (n.reachable && n.mysqlRunning ? 1 : 0));
  perNode('mysql_global_variables_read_only', 'The read_only variable.', (n) => (n.readOnly === null ? null : n.readOnly ? 1 : 0));
  perNode('mysql_slave_status_seconds_behind_master', 'Seconds_Behind_Master; no series while NULL.', (n) => n.lagSeconds, true);
  perNode('mysql_slave_status_slave_io_running', 'Slave_IO_Running (1: Yes).', (n) => (n.ioRunning === null ? null : n.ioRunning === 'Yes' ? 1 : 0), true);
  perNode('mysql_slave_status_slave_sql_running', 'Slave_SQL_Running (1: Yes).', (n) => (n.sqlRunning === null ? null : n.sqlRunning === 'Yes' ? 1 : 0), true);
  perNode('mysql_slave_status_last_io_errno', 'Last_IO_Errno.', (n) => n.ioErrno, true);
  perNode('mysql_slave_status_last_sql_errno', 'Last_SQL_Errno.', (n) => n.sqlErrno, true);
  perNode('mysql_slave_status_last_errno', 'Last_Errno (MariaDB: the SQL thread\'s, as Last_SQL_Errno).', (n) => n.sqlErrno, true);
  perNode('conpaas_node_up', 'Whether the node\'s agent answers and its mariadbd answers it (1) or not (0).', (n) => (n.reachable && n.mysqlRunning ? 1 : 0));
  perNode('conpaas_node_read_only', 'The node\'s read_only (1 on, 0 off); no series while unknown.', (n) => (n.readOnly === null ? null : n.readOnly ? 1 : 0));
  perNode('conpaas_replication_lag_seconds', 'Seconds_Behind_Master of a replica; no series while it is NULL (replication not running).', (n) => n.lagSeconds, true);
  perNode('conpaas_replication_io_running', 'Whether the replica\'s IO thread runs (1: Yes; 0: No or Connecting).', (n) => (n.ioRunning === null ? null : n.ioRunning === 'Yes' ? 1 : 0), true);
  perNode('conpaas_replication_sql_running', 'Whether the replica\'s SQL thread runs (1) or not (0).', (n) => (n.sqlRunning === null ? null : n.sqlRunning === 'Yes' ? 1 : 0), true);

  // Read once per scrape (text() below), for the counters, the histogram and the four figures.
  let history: ReturnType<StateStore['endedOperations']> = [];
  let performance: ReturnType<typeof servicePerformance> | null = null;
  const ended = (kind: string): number => history.filter((o) => o.kind === kind && o.outcome === 'done').length;
  new Counter({ name: 'conpaas_failovers_total', help: 'Failovers completed (automatic or asked for), since the service began.', registers, collect() {
    this.reset();
    this.inc(ended('failover'));
  } });
  new Counter({ name: 'conpaas_switchovers_total', help: 'Planned switchovers completed, since the service began.', registers, collect() {
    this.reset();
    this.inc(ended('switchover'));
  } });
  new Histogram({ name: 'conpaas_operation_duration_seconds', help: 'How long ended operations took, by operation (startup, add_nodes, failover, …) and result (done, failed).', labelNames: ['operation', 'result'], buckets: DURATION_BUCKETS, registers, collect() {
    this.reset();
    for (const o of history) this.observe({ operation: o.kind, result: o.outcome }, o.seconds);
  } });
  new Counter({ name: 'conpaas_checks_total', help: 'Looks the manager\'s loop took at the service since the manager started.', registers, collect() {
    this.reset();
    this.inc(src.checks().looks);
  } });
  new Counter({ name: 'conpaas_check_errors_total', help: 'Polls of an agent that failed (no answer, or an error) since the manager started, by kind.', labelNames: ['kind'], registers, collect() {
    this.reset();
    this.inc({ kind: 'agent' }, src.checks().pollErrors);
  } });
  new Counter({ name: 'conpaas_failover_refusals_total', help: 'Failovers refused or held back since the manager started, by reason (replicas_connected, blocked, disabled, would_lose_transactions, no_candidate); each episode once.', labelNames: ['reason'], registers, collect() {
    this.reset();
    const counts = src.refusals();
    // Every reason from 0, so increase() sees the first refusal of each.
    for (const reason of FAILOVER_REFUSALS) this.inc({ reason }, counts[reason] ?? 0);
  } });
  // The seed's four figures, over the last minute (get_service_performance's default window).
  const perf = (name: string, help: string, pick: (p: ReturnType<typeof servicePerformance>) => number): void => {
    new Gauge({ name, help, registers, collect() {
      if (performance) this.set(pick(performance));
    } });
  };
  perf('conpaas_request_rate', 'Client statements per second over the last minute, every node (the seed\'s request_rate).', (p) => p.request_rate);
  perf('conpaas_error_rate', 'Client statements that failed, per second over the last minute (error_rate).', (p) => p.error_rate);
  perf('conpaas_throughput', 'Write transactions committed per second on the master over the last minute (throughput).', (p) => p.throughput);
  perf('conpaas_response_time_seconds', 'Mean statement latency over the last minute, seconds (response_time, which the API gives in ms).', (p) => p.response_time / 1000);
  // One metric per mysqld_exporter name, made the first time a node reports a variable.
  const dynamic = new Map<string, Gauge | Counter>();
  const refreshMysql = (): void => {
    for (const m of dynamic.values()) m.reset();
    for (const [node, h] of Object.entries(src.counterHistory())) {
      const last = h.samples[h.samples.length - 1];
      if (!last) continue;
      for (const [variable, value] of Object.entries(last.status)) {
        const e = exporterName(variable);
        let m = dynamic.get(e.name);
        if (!m) {
          const spec = { name: e.name, help: `SHOW GLOBAL STATUS, as mysqld_exporter names it (${variable}${e.label ? ' and its group' : ''}).`, labelNames: ['node', 'role', ...(e.label ? [e.label.name] : [])], registers };
          m = e.type === 'counter' ? new Counter(spec) : new Gauge(spec);
          dynamic.set(e.name, m);
        }
        const labels = { node, role: h.role, ...(e.label ? { [e.label.name]: e.label.value } : {}) };
        if (m instanceof Counter) m.inc(labels, Math.max(0, value));
        else m.set(labels, value);
        if (variable === 'Rpl_semi_sync_master_clients' && h.role === 'master') semiSync.set({ node }, value);
      }
      for (const [variable, value] of Object.entries(last.variables ?? {})) {
        const name = `mysql_global_variables_${variable.toLowerCase()}`;
        let m = dynamic.get(name);
        if (!m) {
          m = new Gauge({ name, help: `The server variable ${variable}, as mysqld_exporter names it.`, labelNames: ['node', 'role'], registers });
          dynamic.set(name, m);
        }
        (m as Gauge).set({ node, role: h.role }, value);
      }
      if (last.disk) {
        const labels = { node, role: h.role };
        // Relay_Log_Space is the relay logs' combined size: the agent's reading of them.
        if (h.role === 'replica') relayLogSpace.set(labels, last.disk.relayLogBytes);
        disk.data.set(labels, last.disk.dataBytes);
        disk.free.set(labels, last.disk.freeBytes);
        disk.size.set(labels, last.disk.sizeBytes);
        disk.binlog.set(labels, last.disk.binlogBytes);
        disk.relay.set(labels, last.disk.relayLogBytes);
      }
    }
  };
  const nodeGauge = (name: string, help: string): Gauge => new Gauge({ name, help, labelNames: ['node', 'role'], registers });
  const disk = {
    data: nodeGauge('conpaas_node_data_bytes', 'Bytes under the node\'s data directory, binary and relay logs included (read by its agent at most every 10 s).'),
    free: nodeGauge('conpaas_node_disk_free_bytes', 'Free bytes on the file system of the node\'s data directory, for an unprivileged user.'),
    size: nodeGauge('conpaas_node_disk_size_bytes', 'Size of the file system of the node\'s data directory, bytes.'),
    binlog: nodeGauge('conpaas_node_binlog_bytes', 'Bytes of the node\'s binary logs.'),
    relay: nodeGauge('conpaas_node_relay_log_bytes', 'Bytes of the node\'s relay logs.'),
  };
  const relayLogSpace = nodeGauge('mysql_slave_status_relay_log_space', 'Relay_Log_Space: bytes of the replica\'s relay logs (from its agent\'s disk reading, every 10 s at most).');
  const semiSync = new Gauge({ name: 'conpaas_semi_sync_master_clients', help: 'Replicas connected to the master with semi-synchronous replication (Rpl_semi_sync_master_clients).', labelNames: ['node'], registers });
  return {
    registry,
    contentType: registry.contentType,
    text: async () => {
      history = src.store.endedOperations();
      for (const g of Object.values(disk)) g.reset();
      relayLogSpace.reset();
      performance = servicePerformance(src.counterHistory(), '1m');
      semiSync.reset();
      refreshMysql();
      return registry.metrics();
    },
  };
}
