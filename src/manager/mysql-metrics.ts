/**
 * How a `SHOW GLOBAL STATUS` variable is named by Prometheus's mysqld_exporter
 * (collector/global_status.go): lower-cased; `Com_*`, `Handler_*`, `Connection_errors_*`,
 * `Innodb_rows_*`, `Performance_schema_*` become one counter each with the rest as a label;
 * `Innodb_buffer_pool_pages_{data,free,misc,old}` a gauge by state, `…_dirty` a gauge of its own,
 * the other `Innodb_buffer_pool_pages_*` a counter by operation; every other variable
 * `mysql_global_status_<name>`. So the public MySQL dashboards and the mysqld mixin's alerts read
 * our series unchanged (with a `node` label added, since the manager re-exports every node).
 */
export interface ExporterName {
  /** The metric's name, e.g. `mysql_global_status_commands_total`. */
  name: string;
  /** Its own label (`command`, `handler`, `operation`, …) and value, or null. */
  label: { name: string; value: string } | null;
  /** A counter (`_total`) or a gauge (the exporter's untyped values are gauges here). */
  type: 'counter' | 'gauge';
}

const GROUPS: Record<string, { metric: string; label: string }> = {
  com: { metric: 'commands_total', label: 'command' },
  handler: { metric: 'handlers_total', label: 'handler' },
  connection_errors: { metric: 'connection_errors_total', label: 'error' },
  innodb_rows: { metric: 'innodb_row_ops_total', label: 'operation' },
  performance_schema: { metric: 'performance_schema_lost_total', label: 'instrumentation' },
};

const GROUP_RE = /^(com|handler|connection_errors|innodb_buffer_pool_pages|innodb_rows|performance_schema)_(.*)$/;

/** The mysqld_exporter name of a status variable (`Com_select` → commands_total{command="select"}). */
export function exporterName(variable: string): ExporterName {
  const key = variable.toLowerCase();
  const m = GROUP_RE.exec(key);
  if (!m) return { name: `mysql_global_status_${key}`, label: null, type: 'gauge' };
  const [, group, rest] = m as unknown as [string, string, string];
  if (group === 'innodb_buffer_pool_pages') {
    if (rest === 'dirty') return { name: 'mysql_global_status_buffer_pool_dirty_pages', label: null, type: 'gauge' };
    return ['data', 'free', 'misc', 'old'].includes(rest)
      ? { name: 'mysql_global_status_buffer_pool_pages', label: { name: 'state', value: rest }, type: 'gauge' }
      : { name: 'mysql_global_status_buffer_pool_page_changes_total', label: { name: 'operation', value: rest }, type: 'counter' };
  }
  const g = GROUPS[group]!;
  return { name: `mysql_global_status_${g.metric}`, label: { name: g.label, value: rest }, type: 'counter' };
}
