import { parseGtidPosition, type GtidPosition } from '../../src/protocol/gtid.js';
import type { NodeView, Operation, Snapshot } from '../../src/manager/core/model.js';
import type { NodeRole } from '../../src/protocol/manager-api.js';

/** The clock of the snapshots the decision tables build. */
export const NOW = Date.parse('2026-11-25T18:00:00Z');

/** A GTID position from its text (as an agent reports it); throws for text that is not one. */
export function gtid(text: string): GtidPosition {
  const p = parseGtidPosition(text);
  if (p === null) throw new Error(`not a GTID position: ${text}`);
  return p;
}

/** A node's fields to change; GTID positions may be given as text. */
export type NodeOverrides = Omit<Partial<NodeView>, 'gtidApplied' | 'gtidReceived' | 'gtidBinlog' | 'gtidSlave' | 'receivedHigh'> & {
  gtidApplied?: string | GtidPosition | null;
  gtidReceived?: string | GtidPosition | null;
  gtidBinlog?: string | GtidPosition | null;
  gtidSlave?: string | GtidPosition | null;
  receivedHigh?: string | GtidPosition | null;
};

const asPosition = (v: string | GtidPosition | null): GtidPosition | null => (typeof v === 'string' ? gtid(v) : v);

/** A node as the observer reports a healthy one; `node-<n>` has server_id n and follows node-1. */
export function node(id: string, role: NodeRole, over: NodeOverrides = {}): NodeView {
  const { gtidApplied = '0-1-10', gtidReceived = role === 'replica' ? '0-1-10' : null, gtidBinlog = gtidApplied, gtidSlave = role === 'replica' ? gtidApplied : '', receivedHigh = null, ...rest } = over;
  return {
    id,
    role,
    status: 'ready',
    serverId: Number(id.replace('node-', '')),
    alive: true,
    reachable: true,
    mysqlRunning: true,
    mysqlSilent: false,
    readOnly: role === 'replica',
    replicatingFrom: role === 'replica' ? 'node-1' : null,
    ioRunning: role === 'replica' ? 'Yes' : null,
    sqlRunning: role === 'replica' ? 'Yes' : null,
    replicationError: '',
    failedChecks: 0,
    lagSeconds: role === 'replica' ? 0 : null,
    ioErrno: role === 'replica' ? 0 : null,
    sqlErrno: role === 'replica' ? 0 : null,
    repairs: 0,
    troubleChecks: 0,
    ...rest,
    gtidApplied: asPosition(gtidApplied),
    gtidReceived: asPosition(gtidReceived),
    gtidBinlog: asPosition(gtidBinlog),
    gtidSlave: asPosition(gtidSlave),
    receivedHigh: asPosition(receivedHigh),
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
    failover: { enabled: true, blockedUntil: null, checks: 2, blockSeconds: 300 },
    now: NOW,
    ...over,
  };
}

/**
 * An operation as the decision tables write it: a kind, its parameters, phase and attempts. An
 * `abortError` given among the parameters (as the tables were first written) is the operation's own.
 */
export function operation(kind: Operation['kind'], over: { params?: Record<string, unknown>; phase?: string | null; attempts?: number; abortError?: string | null } = {}): Operation {
  const { abortError: inParams, ...params } = over.params ?? {};
  return {
    kind,
    params,
    phase: over.phase ?? null,
    attempts: over.attempts ?? 0,
    abortError: over.abortError ?? (typeof inParams === 'string' ? inParams : null),
  } as Operation;
}
