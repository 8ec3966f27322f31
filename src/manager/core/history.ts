import type { Counters } from '../../protocol/agent-api.js';
import type { NodeHistory, PerformanceHistory, PerformancePoint } from '../../protocol/manager-api.js';
import { growth, intervalSeconds, type CounterHistory } from './performance.js';

/** The span get_performance_history covers, seconds (the console's charts: 15 minutes). */
export const HISTORY_SECONDS = 900;

const PS_PER_MS = 1e9;

/**
 * The rates between two samples of one node, or null when no rate can be had from them (no time
 * between them, or the server restarted in between and its counters began again). Pure.
 */
export function pointBetween(prev: Counters, cur: Counters): PerformancePoint | null {
  const seconds = intervalSeconds(prev, cur);
  if (seconds === null) return null;
  const d = growth;
  const statements = d(cur.statements.count, prev.statements.count);
  const split = cur.statements.reads !== undefined && prev.statements.reads !== undefined;
  return {
    at: cur.at,
    statementsPerSecond: statements / seconds,
    readsPerSecond: split ? d(cur.statements.reads, prev.statements.reads) / seconds : null,
    writesPerSecond: split ? d(cur.statements.writes, prev.statements.writes) / seconds : null,
    commitsPerSecond: d(cur.status['Binlog_commits'], prev.status['Binlog_commits']) / seconds,
    latencyMs: statements > 0 ? d(cur.statements.latencyPicoseconds, prev.statements.latencyPicoseconds) / statements / PS_PER_MS : null,
    connections: cur.status['Threads_connected'] ?? 0,
  };
}

/**
 * Each node's points over the last HISTORY_SECONDS before `now` (ms since the epoch), from the
 * samples the observer keeps, with its last disk reading and, on the master, how many replicas
 * acknowledge its commits. Nodes in id order (node-2 before node-10). Pure.
 */
export function performanceHistory(histories: Record<string, CounterHistory>, now: number): PerformanceHistory {
  const from = now - HISTORY_SECONDS * 1000;
  const nodes: NodeHistory[] = Object.entries(histories)
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([id, h]) => {
      const points: PerformancePoint[] = [];
      for (let i = 1; i < h.samples.length; i++) {
        if (Date.parse(h.samples[i]!.at) < from) continue;
        const p = pointBetween(h.samples[i - 1]!, h.samples[i]!);
        if (p) points.push(p);
      }
      const last = h.samples[h.samples.length - 1];
      const clients = last?.status['Rpl_semi_sync_master_clients'];
      return {
        id,
        role: h.role,
        points,
        disk: last?.disk ?? null,
        version: last?.serverVersion ?? null,
        semiSyncClients: h.role === 'master' && clients !== undefined ? clients : null,
      };
    });
  return { windowSeconds: HISTORY_SECONDS, nodes };
}
