import type { NodeView, Snapshot } from '../../src/manager/core/model.js';
import type { NodeRole } from '../../src/protocol/manager-api.js';

/** The clock of the snapshots the decision tables build. */
export const NOW = Date.parse('2026-11-25T18:00:00Z');

/** A node as the observer reports a healthy one; `node-<n>` has server_id n and follows node-1. */
export function node(id: string, role: NodeRole, over: Partial<NodeView> = {}): NodeView {
  return {
    id,
    role,
    status: 'ready',
    serverId: Number(id.replace('node-', '')),
    alive: true,
    reachable: true,
    mysqlRunning: true,
    readOnly: role === 'replica',
    replicatingFrom: role === 'replica' ? 'node-1' : null,
    ioRunning: role === 'replica' ? 'Yes' : null,
    sqlRunning: role === 'replica' ? 'Yes' : null,
    replicationError: '',
    gtidApplied: '0-1-10',
    gtidReceived: role === 'replica' ? '0-1-10' : null,
    failedChecks: 0,
    ...over,
  };
}

/** A RUNNING service wanting two replicas, with automatic failover on. */
export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    state: 'RUNNING',
    desiredReplicas: 2,
    nextSeq: 4,
    lastError: null,
    operation: null,
    nodes: [],
    unknownNodes: [],
    failover: { enabled: true, blockedUntil: null, checks: 2 },
    now: NOW,
    ...over,
  };
}
