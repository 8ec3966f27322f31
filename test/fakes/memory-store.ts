import type { ServiceEvent } from '../../src/protocol/manager-api.js';
import { parseOperation, type OperationKind, type ParamsByKind } from '../../src/protocol/operations.js';
import type { EndedOperation, NewNodeRecord, NewServiceRecord, NodeRecord, OperationPatch, OperationRecord, ServiceRecord, StateStore } from '../../src/store/store.js';

/** A journal entry as the store keeps it: the step recorded before it ran, and how it ended. */
export interface JournalEntry {
  id: number;
  operationId: number | null;
  step: string;
  detail: Record<string, unknown>;
  outcome: string | null;
}

/** An operation as the store keeps it, open or ended. */
export type OperationHistory = OperationRecord & {
  outcome: 'done' | 'failed' | null;
  error: string | null;
  endedAt?: string;
};

interface State {
  service: ServiceRecord | null;
  nodes: NodeRecord[];
  operations: OperationHistory[];
  journal: JournalEntry[];
  events: ServiceEvent[];
  lastOperationId: number;
  lastJournalId: number;
}

/**
 * A stateful in-memory StateStore for unit tests of the manager. It keeps the promises of
 * SqliteStore (tests/contract/state-store.contract.ts): one service, nodes unique by id and
 * server_id and listed by server_id, at most one open operation, and `atomically` that undoes
 * every write of a function that throws. Records go in and out as copies.
 */
export class MemoryStore implements StateStore {
  private state: State = { service: null, nodes: [], operations: [], journal: [], events: [], lastOperationId: 0, lastJournalId: 0 };
  private closed = false;
  private changes = 0;

  /** Grows with every change (StateStore.version). */
  get version(): number {
    return this.changes;
  }

  constructor(private readonly now: () => string = () => new Date().toISOString()) {}

  /** Every journal entry, oldest first (what SqliteStore keeps in its `journal` table). */
  journalEntries(): JournalEntry[] {
    return structuredClone(this.open().journal);
  }

  /** Every operation, open or ended, oldest first. */
  operationHistory(): OperationHistory[] {
    return structuredClone(this.open().operations);
  }

  atomically<T>(fn: () => T): T {
    const saved = structuredClone(this.open());
    try {
      return fn();
    } catch (err) {
      this.state = saved;
      throw err;
    }
  }

  service(): ServiceRecord | null {
    const s = this.open().service;
    return s ? { ...s } : null;
  }

  createService(s: NewServiceRecord): void {
    this.changes++;
    const st = this.open();
    if (st.service) throw new Error('the service record already exists');
    st.service = { lastMasterGtid: null, outageSince: null, ...s };
  }

  updateService(patch: Partial<ServiceRecord>): ServiceRecord {
    this.changes++;
    const st = this.open();
    if (!st.service) throw new Error('no service record');
    st.service = { ...st.service, ...definedOnly(patch) };
    return { ...st.service };
  }

  nodes(): NodeRecord[] {
    return this.open()
      .nodes.map((n) => ({ ...n }))
      .sort((a, b) => a.serverId - b.serverId);
  }

  node(id: string): NodeRecord | null {
    const n = this.open().nodes.find((x) => x.id === id);
    return n ? { ...n } : null;
  }

  insertNode(n: NewNodeRecord): void {
    this.changes++;
    const st = this.open();
    if (st.nodes.some((x) => x.id === n.id)) throw new Error(`node ${n.id} already exists`);
    if (st.nodes.some((x) => x.serverId === n.serverId)) throw new Error(`server_id ${n.serverId} is already used`);
    st.nodes.push({ receivedGtid: null, repairs: 0, ...n });
  }

  updateNode(id: string, patch: Partial<Omit<NodeRecord, 'id'>>): void {
    this.changes++;
    const st = this.open();
    const i = st.nodes.findIndex((x) => x.id === id);
    const cur = st.nodes[i];
    if (!cur) return;
    const next = { ...cur, ...definedOnly(patch), id };
    if (st.nodes.some((x) => x.id !== id && x.serverId === next.serverId)) throw new Error(`server_id ${next.serverId} is already used`);
    st.nodes[i] = next;
  }

  deleteNode(id: string): void {
    this.changes++;
    const st = this.open();
    st.nodes = st.nodes.filter((x) => x.id !== id);
  }

  operation(): OperationRecord | null {
    const o = this.current();
    if (!o) return null;
    const { outcome: _outcome, error: _error, id, startedAt, ...op } = structuredClone(o);
    // Read through the same schema as SqliteStore's rows.
    return { ...parseOperation(op), id, startedAt };
  }

  beginOperation<K extends OperationKind>(kind: K, params: ParamsByKind[K]): OperationRecord {
    const st = this.open();
    if (this.current()) throw new Error('an operation is already under way');
    const op = parseOperation({ kind, params: roundTrip(params), phase: null, attempts: 0, abortError: null });
    st.lastOperationId += 1;
    this.changes++;
    st.operations.push({ ...op, id: st.lastOperationId, startedAt: this.now(), outcome: null, error: null });
    return this.operation()!;
  }

  updateOperation(patch: OperationPatch): void {
    this.changes++;
    const o = this.current();
    if (!o) return;
    const { outcome: _outcome, error: _error, id: _id, startedAt: _startedAt, ...op } = o;
    const next = parseOperation(roundTrip({ ...op, ...definedOnly(patch) }));
    Object.assign(o, next);
  }

  lastEndedOperation(): EndedOperation | null {
    const o = [...this.open().operations].reverse().find((x) => x.outcome !== null);
    if (!o) return null;
    const { outcome, error, id, startedAt, endedAt: _endedAt, ...op } = structuredClone(o);
    return { ...parseOperation(op), id, startedAt, outcome: outcome!, error };
  }

  endOperation(outcome: 'done' | 'failed', error?: string): void {
    this.changes++;
    const o = this.current();
    if (!o) return;
    o.outcome = outcome;
    o.error = error ?? null;
    o.endedAt = this.now();
  }

  endedOperations(): { kind: OperationKind; outcome: 'done' | 'failed'; seconds: number }[] {
    return this.open()
      .operations.filter((o) => o.outcome !== null)
      .map((o) => ({ kind: o.kind, outcome: o.outcome!, seconds: Math.max(0, (Date.parse(o.endedAt ?? o.startedAt) - Date.parse(o.startedAt)) / 1000) }));
  }

  journal(step: string, detail: Record<string, unknown>): number {
    this.changes++;
    const st = this.open();
    st.lastJournalId += 1;
    st.journal.push({ id: st.lastJournalId, operationId: this.current()?.id ?? null, step, detail: roundTrip(detail), outcome: null });
    return st.lastJournalId;
  }

  journalOutcome(id: number, outcome: string): void {
    this.changes++;
    const e = this.open().journal.find((x) => x.id === id);
    if (e) e.outcome = outcome;
  }

  addEvent(message: string): void {
    this.changes++;
    this.open().events.push({ at: this.now(), message });
  }

  events(limit: number): ServiceEvent[] {
    const all = this.open().events;
    if (limit <= 0) return [];
    return all.slice(Math.max(0, all.length - limit)).map((e) => ({ ...e }));
  }

  close(): void {
    this.closed = true;
  }

  /** The manager using it died: every later call throws, as a dead process writes nothing more. */
  crash(): void {
    this.closed = true;
  }

  /** A new manager opens the store its predecessor left: everything committed is there. */
  restart(): void {
    this.closed = false;
  }

  private open(): State {
    if (this.closed) throw new Error('the store is closed');
    return this.state;
  }

  private current(): OperationHistory | undefined {
    return this.open().operations.find((o) => o.outcome === null);
  }
}

/** What SQLite keeps of a JSON column: no undefined, no functions, no shared references. */
function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A key set to `undefined` in a patch counts as absent (the contract does not rely on either meaning). */
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
