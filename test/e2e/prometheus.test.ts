import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, sleep } from '../../src/util/proc.js';
import { killAndWait } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { pidsOf } from '../helpers/nodes.js';
import { freePort } from '../helpers/ports.js';
import { connectApp, eventually } from '../helpers/sql.js';

const RULES = resolve('deploy/prometheus/alerts.yml');

/** One sample of a Prometheus instant query: its labels and value. */
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * The manager's metrics as a real Prometheus (Debian's `prometheus`, started here on loopback
 * with a generated configuration) scrapes them: behind the API token (credentials_file), every
 * second; the alert rules shipped in deploy/ load and pass `promtool`.
 */
describe('Prometheus scrapes the manager', () => {
  let m: ManagerProcess;
  let prom: ChildProcess | null = null;
  let dir = '';
  let port = 0;

  /** An instant query; no result while Prometheus is not up and ready yet. */
  const query = async (q: string): Promise<Sample[]> => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      if (!res.ok) return [];
      const body = (await res.json()) as { status: string; data: { result: Sample[] } };
      return body.status === 'success' ? body.data.result : [];
    } catch {
      return [];
    }
  };

  beforeAll(async () => {
    m = await ManagerProcess.start({ args: ['--failover-block-seconds', '0'] });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    dir = mkdtempSync(join(tmpdir(), 'cps-prom-'));
    writeFileSync(join(dir, 'token'), m.token, { mode: 0o600 });
    copyFileSync(RULES, join(dir, 'alerts.yml'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files: [alerts.yml]',
        'scrape_configs:',
        '  - job_name: conpaas-mysql',
        '    authorization:',
        `      credentials_file: ${join(dir, 'token')}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${m.port}']`,
        '',
      ].join('\n'),
    );
    execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { stdio: 'pipe' });
    port = await freePort();
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  }, 120_000);

  afterAll(async () => {
    if (prom?.pid && isAlive(prom.pid)) {
      prom.kill('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (isAlive(prom.pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(prom.pid)) prom.kill('SIGKILL');
    }
    await m?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the alert rules in deploy/ pass promtool', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('a scrape without the token is refused; with it, the text format', async () => {
    expect((await fetch(`http://127.0.0.1:${m.port}/metrics`)).status).toBe(401);
    const res = await fetch(`http://127.0.0.1:${m.port}/metrics`, { headers: { authorization: `Bearer ${m.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE conpaas_failovers_total counter');
    // Nodes are named by id, never by address.
    expect(text).not.toMatch(/node="127\.0\.0\.1/);
  });

  it('finds 3 nodes up, a lag series per replica, the service available, MariaDB figures rising under load; a killed master adds a failover', async () => {
    const up = await eventually(() => query('conpaas_node_up == 1'), (r) => r.length === 3, 30_000);
    expect(up.map((s) => s.metric['node']).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(up.find((s) => s.metric['node'] === 'node-1')!.metric['role']).toBe('master');
    const lag = await eventually(() => query('conpaas_replication_lag_seconds'), (r) => r.length === 2, 10_000);
    expect(lag.map((s) => s.metric['node']).sort()).toEqual(['node-2', 'node-3']);
    expect((await query('conpaas_service_available'))[0]?.value[1]).toBe('1');
    expect((await query('conpaas_service_state{state="RUNNING"}'))[0]?.value[1]).toBe('1');
    expect((await query('conpaas_failovers_total'))[0]?.value[1]).toBe('0');
    // Each node's disk, as its agent reads it: a data directory of some MiB (binary logs in it), free space left.
    const data = await eventually(() => query('conpaas_node_data_bytes > 1e6'), (r) => r.length === 3, 15_000);
    expect(data.map((s) => s.metric['node']).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(await query('conpaas_node_disk_free_bytes > 0')).toHaveLength(3);
    expect((await query('conpaas_node_binlog_bytes{node="node-1"} > 0'))).toHaveLength(1);
    // The nodes' MariaDB figures, under mysqld_exporter's names: statements counted while a client works.
    const before = Number((await eventually(() => query('mysql_global_status_queries{node="node-1"}'), (r) => r.length === 1, 10_000))[0]!.value[1]);
    const c = await connectApp('127.0.0.1', Number((await m.info()).master!.split(':')[1]), 'mysqldb', await m.client.call('get_password', {}));
    for (let i = 0; i < 200; i++) await c.query('SELECT 1');
    await c.end();
    const after = await eventually(() => query('mysql_global_status_queries{node="node-1"}'), (r) => Number(r[0]?.value[1] ?? 0) >= before + 200, 15_000);
    expect(Number(after[0]!.value[1])).toBeGreaterThanOrEqual(before + 200);
    expect((await eventually(() => query('conpaas_semi_sync_master_clients'), (r) => r[0]?.value[1] === '2', 10_000))[0]?.value[1]).toBe('2');
    expect((await query('mysql_slave_status_slave_io_running == 1')).length).toBe(2);

    const p = pidsOf(m, 'node-1');
    await killAndWait([p.agent, p.mysqld]);
    const failovers = await eventually(() => query('conpaas_failovers_total'), (r) => r[0]?.value[1] === '1', 60_000);
    expect(failovers[0]?.value[1]).toBe('1');
    const newMaster = await eventually(() => query('conpaas_node_up{role="master"} == 1'), (r) => r.length === 1 && r[0]!.metric['node'] !== 'node-1', 30_000);
    expect(newMaster[0]?.metric['node']).not.toBe('node-1');
    const durations = await query('conpaas_operation_duration_seconds_count{operation="failover",result="done"}');
    expect(durations[0]?.value[1]).toBe('1');
  }, 120_000);
});
