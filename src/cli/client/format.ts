import { PERFORMANCE_WINDOWS, type ServiceInfo, type ServiceNodeInfo, type ServicePerformance } from '../../protocol/manager-api.js';

/** Renders rows as an aligned text table with a header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Renders key/value pairs, keys aligned. */
export function pairs(entries: Array<[string, string]>): string {
  const w = Math.max(...entries.map(([k]) => k.length)) + 1;
  return entries.map(([k, v]) => `${`${k}:`.padEnd(w + 1)}${v}`).join('\n');
}

function hostPort(addr: string): { host: string; port: string } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: addr.slice(i + 1) };
}

/** The command a user pastes to reach the master (the password is asked, never printed). */
export function connectCommand(info: ServiceInfo): string | null {
  if (!info.master) return null;
  const { host, port } = hostPort(info.master);
  return `mariadb -h ${host} -P ${port} -u ${info.user} -p`;
}

/** get_service_info for a person: state, URLs, the connect command, failover, the diagnosis. */
export function formatInfo(info: ServiceInfo): string {
  const entries: Array<[string, string]> = [['state', info.state]];
  entries.push(['master url', info.master ? `mysql://${info.master}` : '(none)']);
  for (const s of info.slaves) entries.push(['slave url', `mysql://${s}`]);
  entries.push(['user', info.user]);
  const cmd = connectCommand(info);
  if (cmd) entries.push(['connect', cmd]);
  if (info.operation) entries.push(['operation', `${info.operation.kind}: ${info.operation.step ?? 'starting'}`]);
  entries.push(['failover', `${info.failover.enabled ? 'automatic' : 'manual only'}${info.failover.blockedUntil ? ` (blocked until ${info.failover.blockedUntil}; 'cps-mysql failover-ack' lifts it)` : ''}`]);
  const w = info.recoverable;
  // Older managers do not send the window.
  if (w?.from) entries.push(['recoverable', w.until ? `${w.from} → ${w.until} (${w.secondsBehind ?? '?'} s behind now)` : `${w.from} (backups only; nothing archived yet)`]);
  if (info.diagnosis && info.state !== 'STOPPED' && info.state !== 'INIT') entries.push(['manager says', info.diagnosis]);
  if (info.error) entries.push(['error', info.error]);
  return pairs(entries);
}

function lag(n: ServiceNodeInfo): string {
  if (!n.replication) return '-';
  if (n.replication.secondsBehindMaster === null) return n.replication.ioRunning === 'Yes' ? '?' : 'stopped';
  return `${n.replication.secondsBehindMaster}s`;
}

/** The nodes as a table: id, role, status, server, address, lag, GTID. */
export function formatNodes(nodes: ServiceNodeInfo[]): string {
  return table(
    ['ID', 'ROLE', 'STATUS', 'MYSQL', 'ADDRESS', 'LAG', 'GTID'],
    nodes.map((n) => [n.id, n.role, n.status, n.isRunningMySQL ? 'up' : 'down', n.ip ? `${n.ip}:${n.port}` : '-', lag(n), n.gtidPosition ?? '-']),
  );
}

/** One node, field by field. */
export function formatNode(n: ServiceNodeInfo): string {
  const entries: Array<[string, string]> = [
    ['id', n.id],
    ['role', n.role],
    ['status', n.status],
    ['address', n.ip ? `${n.ip}:${n.port}` : '-'],
    ['agent', n.ip ? `${n.ip}:${n.agentPort}` : '-'],
    ['mysql running', n.isRunningMySQL ? 'yes' : 'no'],
    ['read only', n.readOnly === null ? '?' : n.readOnly ? 'yes' : 'no'],
    ['gtid', n.gtidPosition ?? '-'],
  ];
  if (n.replication) {
    entries.push(
      ['replicates from', `${n.replication.masterHost}:${n.replication.masterPort}`],
      ['io / sql thread', `${n.replication.ioRunning} / ${n.replication.sqlRunning}`],
      ['lag', lag(n)],
      ['last error', n.replication.lastError || '-'],
    );
  }
  entries.push(['last seen', n.lastSeen ?? 'never']);
  return pairs(entries);
}

/** The performance figures, service and nodes, as a table. */
export function formatPerformance(p: ServicePerformance): string {
  const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
  const row = (name: string, role: string, f: { request_rate: number; error_rate: number; throughput: number; response_time: number; response_time_p95: number | null }): string[] => [
    name,
    role,
    f.request_rate.toFixed(1),
    f.error_rate.toFixed(1),
    f.throughput.toFixed(1),
    f.response_time.toFixed(3),
    ms(f.response_time_p95),
  ];
  const rows = Object.entries(p.nodes).map(([id, f]) => row(id, f.role, f));
  rows.push(row('service', '', p));
  const head = table(['NODE', 'ROLE', 'STATEMENTS/S', 'ERRORS/S', 'COMMITS/S', 'MEAN MS', 'P95 MS'], rows);
  const over = p.interval > 0 ? `(over the last ${p.interval.toFixed(1)} s: window ${p.window})` : '(no full monitoring interval yet)';
  const windows = table(
    ['WINDOW', 'STATEMENTS/S', 'ERRORS/S', 'COMMITS/S', 'MEAN MS', 'P95 MS', 'SPAN S'],
    PERFORMANCE_WINDOWS.map((w) => {
      const f = p.windows[w];
      return [w, f.request_rate.toFixed(1), f.error_rate.toFixed(1), f.throughput.toFixed(1), f.response_time.toFixed(3), ms(f.response_time_p95), f.interval.toFixed(1)];
    }),
  );
  return `${head}\n${over}\n\n${windows}`;
}
