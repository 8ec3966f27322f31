import { describe, expect, it } from 'vitest';
import type { Counters } from '../../src/protocol/agent-api.js';
import { HISTORY_SECONDS, performanceHistory, pointBetween } from '../../src/manager/core/history.js';

const T0 = Date.parse('2026-11-29T12:00:00.000Z');
const sample = (s: number, over: { count?: number; reads?: number; writes?: number; latencyMs?: number; commits?: number; threads?: number; uptime?: number; clients?: number; split?: boolean } = {}): Counters => ({
  at: new Date(T0 + s * 1000).toISOString(),
  uptimeSeconds: over.uptime ?? 100 + s,
  status: { Binlog_commits: over.commits ?? 0, Threads_connected: over.threads ?? 1, ...(over.clients !== undefined ? { Rpl_semi_sync_master_clients: over.clients } : {}) },
  statements: {
    count: over.count ?? 0,
    errors: 0,
    latencyPicoseconds: (over.latencyMs ?? 0) * 1e9,
    ...(over.split === false ? {} : { reads: over.reads ?? 0, writes: over.writes ?? 0 }),
  },
});

describe('performance history points', () => {
  it('rates over the interval between two samples', () => {
    const p = pointBetween(sample(0, { count: 10, reads: 5, writes: 5, latencyMs: 0, commits: 100 }), sample(2, { count: 30, reads: 15, writes: 9, latencyMs: 40, commits: 110, threads: 7 }));
    expect(p).toEqual({ at: sample(2).at, statementsPerSecond: 10, readsPerSecond: 5, writesPerSecond: 2, commitsPerSecond: 5, latencyMs: 2, connections: 7 });
  });

  it.each([
    ['a restart between them (uptime went down)', sample(0, { uptime: 500 }), sample(1, { uptime: 3 })],
    ['no time between them', sample(1), sample(1)],
    ['samples out of order', sample(2), sample(1)],
  ])('no point across %s', (_name, a, b) => {
    expect(pointBetween(a, b)).toBeNull();
  });

  it('no latency without statements; no read/write split from an agent that does not give it', () => {
    const p = pointBetween(sample(0, { split: false }), sample(1, { split: false }))!;
    expect(p.latencyMs).toBeNull();
    expect(p.readsPerSecond).toBeNull();
    expect(p.writesPerSecond).toBeNull();
  });

  it('keeps the last 15 minutes, nodes in id order, the last disk reading and the master’s semi-sync clients', () => {
    const old = sample(-HISTORY_SECONDS - 10);
    const disk = { dataBytes: 10, freeBytes: 20, sizeBytes: 40, binlogBytes: 3, relayLogBytes: 0 };
    const h = performanceHistory(
      {
        'node-10': { role: 'replica', samples: [sample(0), sample(1, { clients: 2 })] },
        'node-2': { role: 'master', samples: [old, sample(-HISTORY_SECONDS - 5), sample(0), { ...sample(1, { clients: 2 }), disk, serverVersion: '10.11.14-MariaDB-log' }] },
      },
      T0 + 1000,
    );
    expect(h.windowSeconds).toBe(HISTORY_SECONDS);
    expect(h.nodes.map((n) => n.id)).toEqual(['node-2', 'node-10']);
    expect(h.nodes[0]!.points.map((p) => p.at)).toEqual([sample(0).at, sample(1).at]);
    expect(h.nodes[0]).toMatchObject({ role: 'master', disk, semiSyncClients: 2, version: '10.11.14-MariaDB-log' });
    expect(h.nodes[1]).toMatchObject({ role: 'replica', disk: null, semiSyncClients: null, version: null });
  });
});
