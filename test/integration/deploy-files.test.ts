import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceMetrics } from '../../src/manager/metrics.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { node, snapshot } from '../helpers/snapshots.js';

const DASHBOARD = resolve('deploy/grafana/conpaas-mysql.json');
const RULES = resolve('deploy/prometheus/alerts.yml');

/** Every metric name the manager exports, for a service with a master and a replica whose counters were sampled. */
async function exportedNames(): Promise<Set<string>> {
  const sample = {
    at: '2026-11-29T12:00:00.000Z',
    uptimeSeconds: 10,
    status: { Queries: 1, Com_select: 1, Com_insert: 1, Threads_connected: 1, Threads_running: 1, Rpl_semi_sync_master_clients: 1 },
    statements: { count: 0, errors: 0, latencyPicoseconds: 0 },
    disk: { dataBytes: 1, freeBytes: 1, sizeBytes: 2, binlogBytes: 1, relayLogBytes: 1 },
  };
  const m = serviceMetrics({
    store: new MemoryStore(),
    latest: () => snapshot({ nodes: [node('node-1', 'master', { readOnly: false }), node('node-2', 'replica', { lagSeconds: 0 })] }),
    counterHistory: () => ({ 'node-1': { role: 'master', samples: [sample, sample] } }),
    checks: () => ({ looks: 1, pollErrors: 0 }),
    refusals: () => ({ blocked: 1 }),
    version: 'test',
    service: 'mysql',
    backups: async () => ({ count: 2, newestEnd: 1_795_000_000, windowBehind: 1 }),
  });
  const text = await m.text();
  return new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
}

/** The product's metric names (conpaas_*, mysql_*) an expression uses. */
const namesIn = (expr: string): string[] => [...expr.matchAll(/\b((?:conpaas|mysql)_[a-z0-9_]+)/g)].map((m) => m[1]!);

/** The PromQL expressions of the Grafana dashboard, with its `$service` variable filled in. */
function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  return d.panels.flatMap((p) => p.targets.map((t) => t.expr.replaceAll('$service', 'mysql')));
}

describe('the files in deploy/ use only what the manager exports, in valid PromQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cps-deploy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("every metric the dashboard's panels and the alert rules name is one the manager exports", async () => {
    const exported = await exportedNames();
    const rules = readFileSync(RULES, 'utf8');
    const used = new Set([...dashboardExprs().flatMap(namesIn), ...namesIn(rules)]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it("every panel's expression is valid PromQL (promtool, as recording rules)", () => {
    const exprs = dashboardExprs();
    const file = join(dir, 'dashboard-rules.yml');
    writeFileSync(file, ['groups:', '  - name: dashboard', '    rules:', ...exprs.flatMap((e, i) => [`      - record: conpaas:dashboard:panel_${i}`, `        expr: ${JSON.stringify(e)}`])].join('\n') + '\n');
    expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toContain(`SUCCESS: ${exprs.length} rules found`);
  });
});
