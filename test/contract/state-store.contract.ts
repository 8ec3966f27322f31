import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeRecord, ServiceRecord, StateStore } from '../../src/store/store.js';
import type { JournalEntry, OperationHistory } from '../fakes/memory-store.js';

export interface StateStoreHarness {
  store: StateStore;
  /** Closes the store and opens it again on the same storage: everything written must be there. */
  reopen?: () => StateStore;
  /** Closes whichever store is open and removes what it wrote. */
  cleanup: () => void;
  /** What the store keeps beyond its interface (journal, ended operations), oldest first. */
  history?: () => { journal: JournalEntry[]; operations: OperationHistory[] };
}

const SERVICE: ServiceRecord = {
  state: 'INIT',
  error: null,
  cloud: 'local',
  user: 'mysqldb',
  password: 's3cret "quoted" \' pass',
  replUser: 'repl',
  replPassword: 'r3pl',
  desiredReplicas: 0,
  nextSeq: 1,
  failoverEnabled: true,
  failoverBlockedUntil: null,
  pendingPassword: null,
  lastMasterGtid: null,
  outageSince: null,
};

function nodeRecord(seq: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return { id: `node-${seq}`, role: 'replica', status: 'creating', serverId: seq, host: null, agentPort: null, mysqlPort: null, healthPort: null, receivedGtid: null, repairs: 0, ...over };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The contract every StateStore keeps (src/store/store.ts), run on each implementation. */
/** `durable`: the store keeps its state in files, and the reopen case applies to it. */
export function stateStoreContract(name: string, make: () => StateStoreHarness, options: { durable: boolean }): void {
  describe(`StateStore contract: ${name}`, () => {
    let h: StateStoreHarness;
    let store: StateStore;

    beforeEach(() => {
      h = make();
      store = h.store;
    });
    afterEach(() => {
      h.cleanup();
    });

    /** The store as a restarted manager would find it, when the implementation can restart. */
    function again(): StateStore {
      if (h.reopen) store = h.reopen();
      return store;
    }

    it('has no service, node, operation or event at first', () => {
      expect(store.service()).toBeNull();
      expect(store.nodes()).toEqual([]);
      expect(store.operation()).toBeNull();
      expect(store.events(10)).toEqual([]);
    });

    it('counts every change in its version, and no read', () => {
      const reads = (): void => {
        store.service();
        store.nodes();
        store.node('node-1');
        store.operation();
        store.events(10);
        store.lastEndedOperation();
      };
      let last = store.version;
      const changes: Array<[string, () => void]> = [
        ['createService', () => store.createService(SERVICE)],
        ['updateService', () => store.updateService({ desiredReplicas: 3 })],
        ['insertNode', () => store.insertNode({ id: 'node-1', role: 'master', status: 'creating', serverId: 1, host: null, agentPort: null, mysqlPort: null, healthPort: null })],
        ['updateNode', () => store.updateNode('node-1', { status: 'ready' })],
        ['beginOperation', () => store.beginOperation('startup', {})],
        ['updateOperation', () => store.updateOperation({ attempts: 1 })],
        ['journal', () => void store.journal('create_nodes', {})],
        ['addEvent', () => store.addEvent('something happened')],
        ['endOperation', () => store.endOperation('done')],
        ['deleteNode', () => store.deleteNode('node-1')],
      ];
      for (const [what, change] of changes) {
        reads();
        expect(store.version, `reads before ${what}`).toBe(last);
        change();
        expect(store.version, what).toBeGreaterThan(last);
        last = store.version;
      }
    });

    it('creates the service once and reads it back', () => {
      store.createService(SERVICE);
      expect(again().service()).toEqual(SERVICE);
      expect(() => store.createService({ ...SERVICE, user: 'other' })).toThrow();
      expect(store.service()).toEqual(SERVICE);
    });

    it('updates the service with a patch and returns the whole record', () => {
      store.createService(SERVICE);
      const next = store.updateService({ state: 'ERROR', error: 'the master vanished', nextSeq: 4 });
      const expected: ServiceRecord = { ...SERVICE, state: 'ERROR', error: 'the master vanished', nextSeq: 4 };
      expect(next).toEqual(expected);
      expect(again().service()).toEqual(expected);
      expect(store.updateService({ error: null, desiredReplicas: 2 })).toEqual({ ...expected, error: null, desiredReplicas: 2 });
    });

    it('refuses to update a service that was never created', () => {
      expect(() => store.updateService({ state: 'RUNNING' })).toThrow();
      expect(store.service()).toBeNull();
    });

    it('inserts nodes and lists them by server id', () => {
      // By id, 'node-10' < 'node-2' < 'node-9'; by server id, 2 < 9 < 10.
      const nodes = [nodeRecord(10), nodeRecord(2, { role: 'master', status: 'ready', host: '127.0.0.1', agentPort: 5555, mysqlPort: 3306 }), nodeRecord(9)];
      for (const n of nodes) store.insertNode(n);
      const byServerId = [nodes[1], nodes[2], nodes[0]];
      expect(again().nodes()).toEqual(byServerId);
      expect(store.node('node-2')).toEqual(nodes[1]);
    });

    it('gives null for a node it does not know', () => {
      store.insertNode(nodeRecord(1));
      expect(store.node('node-404')).toBeNull();
      expect(store.node('')).toBeNull();
    });

    it('refuses a second node with the same id or the same server id', () => {
      store.insertNode(nodeRecord(1));
      expect(() => store.insertNode(nodeRecord(1, { serverId: 7 }))).toThrow();
      expect(() => store.insertNode(nodeRecord(2, { serverId: 1 }))).toThrow();
      expect(store.nodes()).toEqual([nodeRecord(1)]);
    });

    it('updates a node with a patch, leaving the other fields and nodes alone', () => {
      store.insertNode(nodeRecord(1));
      store.insertNode(nodeRecord(2));
      store.updateNode('node-1', { status: 'created', host: '10.0.0.5', agentPort: 5555, mysqlPort: 3306 });
      store.updateNode('node-1', { role: 'master' });
      expect(again().node('node-1')).toEqual(nodeRecord(1, { role: 'master', status: 'created', host: '10.0.0.5', agentPort: 5555, mysqlPort: 3306 }));
      expect(store.node('node-2')).toEqual(nodeRecord(2));
      store.updateNode('node-1', { host: null, agentPort: null, mysqlPort: null });
      expect(again().node('node-1')).toEqual(nodeRecord(1, { role: 'master', status: 'created' }));
    });

    it('ignores an update of a node it does not know', () => {
      store.insertNode(nodeRecord(1));
      store.updateNode('node-404', { status: 'ready' });
      expect(store.node('node-404')).toBeNull();
      expect(store.nodes()).toEqual([nodeRecord(1)]);
    });

    it('deletes a node, and ignores deleting one it does not know', () => {
      store.insertNode(nodeRecord(1));
      store.insertNode(nodeRecord(2));
      store.deleteNode('node-1');
      store.deleteNode('node-404');
      expect(again().nodes()).toEqual([nodeRecord(2)]);
      expect(store.node('node-1')).toBeNull();
      // The id and server id can be used again.
      store.insertNode(nodeRecord(1));
      expect(store.nodes().map((n) => n.id)).toEqual(['node-1', 'node-2']);
    });

    it('begins an operation and gives it back as the one under way', () => {
      const params = { candidateId: 'node-2', oldMasterId: 'node-1' };
      const op = store.beginOperation('switchover', params);
      expect(op).toEqual({ id: expect.any(Number), kind: 'switchover', params, phase: null, attempts: 0, abortError: null, startedAt: expect.stringMatching(ISO_TIME) });
      expect(again().operation()).toEqual(op);
    });

    it('keeps at most one operation: beginning another while one is open throws', () => {
      const first = store.beginOperation('add_nodes', { replacement: false });
      expect(() => store.beginOperation('shutdown', {})).toThrow();
      expect(store.operation()).toEqual(first);
    });

    it('updates the phase, attempts and params of the operation under way', () => {
      const op = store.beginOperation('switchover', { candidateId: 'node-2', oldMasterId: 'node-1' });
      store.updateOperation({ phase: 'fenced' });
      store.updateOperation({ attempts: 2 });
      expect(again().operation()).toEqual({ ...op, phase: 'fenced', attempts: 2 });
      store.updateOperation({ params: { candidateId: 'node-3', oldMasterId: 'node-1' }, phase: null, attempts: 0 });
      expect(again().operation()).toEqual({ ...op, params: { candidateId: 'node-3', oldMasterId: 'node-1' } });
    });

    it('refuses to make the operation one that is not valid, and keeps it as it was', () => {
      const op = store.beginOperation('switchover', { candidateId: 'node-2', oldMasterId: 'node-1' });
      expect(() => store.updateOperation({ phase: 'drained' })).toThrow();
      expect(() => store.updateOperation({ params: { ids: ['node-2'] } })).toThrow();
      expect(() => store.beginOperation('shutdown', { force: true } as never)).toThrow();
      expect(again().operation()).toEqual(op);
    });

    it('keeps the reason an operation is undone with it', () => {
      const op = store.beginOperation('add_nodes', { replacement: true });
      store.updateOperation({ phase: 'aborting', attempts: 0, abortError: 'add_nodes failed after 3 attempts: provision failed' });
      expect(again().operation()).toEqual({ ...op, phase: 'aborting', abortError: 'add_nodes failed after 3 attempts: provision failed' });
    });

    it('ignores an update when no operation is under way', () => {
      store.updateOperation({ phase: 'fenced', attempts: 3 });
      expect(store.operation()).toBeNull();
      const op = store.beginOperation('startup', {});
      expect(op.phase).toBeNull();
      expect(op.attempts).toBe(0);
    });

    it('ends the operation: none is under way after, and a new one can begin', () => {
      const first = store.beginOperation('startup', {});
      store.endOperation('done');
      expect(again().operation()).toBeNull();
      const second = store.beginOperation('add_nodes', { replacement: false });
      expect(second.id).toBeGreaterThan(first.id);
      store.endOperation('failed', 'provision failed: connection refused');
      expect(again().operation()).toBeNull();
      // Ending when nothing is under way changes nothing.
      store.endOperation('done');
      expect(store.operation()).toBeNull();
      if (h.history) {
        expect(h.history().operations.map((o) => [o.id, o.kind, o.outcome, o.error])).toEqual([
          [first.id, 'startup', 'done', null],
          [second.id, 'add_nodes', 'failed', 'provision failed: connection refused'],
        ]);
      }
    });

    it('gives back the operation that ended last, with its outcome and error; none before one ended', () => {
      expect(again().lastEndedOperation()).toBeNull();
      store.beginOperation('failover', { oldMasterId: 'node-1', automatic: false, preferred: 'node-3' });
      expect(again().lastEndedOperation()).toBeNull();
      store.endOperation('failed', 'failover from node-1 refused');
      store.beginOperation('attach', { id: 'node-2' });
      expect(again().lastEndedOperation()).toMatchObject({ kind: 'failover', params: { oldMasterId: 'node-1', automatic: false, preferred: 'node-3' }, outcome: 'failed', error: 'failover from node-1 refused' });
      store.endOperation('done');
      expect(again().lastEndedOperation()).toMatchObject({ kind: 'attach', params: { id: 'node-2' }, outcome: 'done', error: null });
    });

    it('lists every ended operation with its kind, outcome and duration, oldest first; not the one under way', () => {
      expect(again().endedOperations()).toEqual([]);
      store.beginOperation('startup', {});
      store.endOperation('done');
      store.beginOperation('failover', { oldMasterId: 'node-1', automatic: true });
      store.endOperation('failed', 'no candidate');
      store.beginOperation('attach', { id: 'node-2' });
      const ended = again().endedOperations();
      expect(ended.map((o) => [o.kind, o.outcome])).toEqual([
        ['startup', 'done'],
        ['failover', 'failed'],
      ]);
      for (const o of ended) expect(o.seconds).toBeGreaterThanOrEqual(0);
    });

    it('journals steps before they run and records their outcome', () => {
      const outside = store.journal('destroy_unknown', { kind: 'destroy_unknown', ids: ['node-9'] });
      const op = store.beginOperation('startup', {});
      const a = store.journal('register_nodes', { kind: 'register_nodes', nodes: [{ id: 'node-1', role: 'master', serverId: 1 }] });
      const b = store.journal('create_nodes', { kind: 'create_nodes', ids: ['node-1'] });
      expect(new Set([outside, a, b]).size).toBe(3);
      expect(outside).toBeLessThan(a);
      expect(a).toBeLessThan(b);
      store.journalOutcome(a, 'done');
      store.journalOutcome(b, 'failed: no space left');
      store.journalOutcome(outside, 'done');
      again();
      if (!h.history) return;
      expect(h.history().journal).toEqual([
        { id: outside, operationId: null, step: 'destroy_unknown', detail: { kind: 'destroy_unknown', ids: ['node-9'] }, outcome: 'done' },
        { id: a, operationId: op.id, step: 'register_nodes', detail: { kind: 'register_nodes', nodes: [{ id: 'node-1', role: 'master', serverId: 1 }] }, outcome: 'done' },
        { id: b, operationId: op.id, step: 'create_nodes', detail: { kind: 'create_nodes', ids: ['node-1'] }, outcome: 'failed: no space left' },
      ]);
    });

    it('keeps events in order and gives the latest ones, oldest first', () => {
      for (let i = 1; i <= 5; i++) store.addEvent(`event ${i}`);
      const all = again().events(100);
      expect(all.map((e) => e.message)).toEqual(['event 1', 'event 2', 'event 3', 'event 4', 'event 5']);
      for (const e of all) expect(e.at).toMatch(ISO_TIME);
      expect(store.events(2).map((e) => e.message)).toEqual(['event 4', 'event 5']);
      expect(store.events(5).map((e) => e.message)).toEqual(all.map((e) => e.message));
      expect(store.events(0)).toEqual([]);
    });

    it('commits everything a function does atomically and returns its value', () => {
      store.createService(SERVICE);
      const result = store.atomically(() => {
        store.insertNode(nodeRecord(1));
        store.updateService({ nextSeq: 2 });
        return 'done';
      });
      expect(result).toBe('done');
      expect(again().nodes()).toEqual([nodeRecord(1)]);
      expect(store.service()?.nextSeq).toBe(2);
    });

    it('rolls back every write of a function that throws, and rethrows its error', () => {
      store.createService(SERVICE);
      store.insertNode(nodeRecord(1, { role: 'master', status: 'ready' }));
      store.insertNode(nodeRecord(2));
      store.addEvent('before');
      const journalBefore = h.history?.().journal;
      const failure = new Error('disk on fire');
      expect(() =>
        store.atomically(() => {
          store.updateService({ state: 'ADAPTING', nextSeq: 9 });
          store.insertNode(nodeRecord(3));
          store.updateNode('node-1', { status: 'removing' });
          store.deleteNode('node-2');
          store.beginOperation('add_nodes', { replacement: false });
          store.updateOperation({ phase: 'aborting', attempts: 2 });
          store.journal('register_nodes', { ids: ['node-3'] });
          store.addEvent('during');
          throw failure;
        }),
      ).toThrow(failure);
      expect(store.service()).toEqual(SERVICE);
      expect(store.nodes()).toEqual([nodeRecord(1, { role: 'master', status: 'ready' }), nodeRecord(2)]);
      expect(store.operation()).toBeNull();
      expect(store.events(10).map((e) => e.message)).toEqual(['before']);
      if (h.history) expect(h.history().journal).toEqual(journalBefore);
      // The store goes on working after a rollback.
      store.beginOperation('add_nodes', { replacement: false });
      expect(again().operation()?.kind).toBe('add_nodes');
    });

    it('rolls back an operation ended inside a function that throws', () => {
      const op = store.beginOperation('shutdown', {});
      expect(() =>
        store.atomically(() => {
          store.endOperation('done');
          throw new Error('no');
        }),
      ).toThrow('no');
      expect(store.operation()).toEqual(op);
    });

    it('hands out copies: changing a returned record changes nothing stored', () => {
      store.createService(SERVICE);
      store.insertNode(nodeRecord(1));
      store.beginOperation('remove_nodes', { ids: ['node-1'] });
      store.addEvent('kept');
      const s = store.service()!;
      s.nextSeq = 99;
      store.nodes()[0]!.status = 'ready';
      store.node('node-1')!.host = 'elsewhere';
      const op = store.operation()!;
      (op as { phase: string }).phase = 'tampered';
      (op.params as { ids: string[] }).ids.push('node-2');
      store.events(1)[0]!.message = 'changed';
      expect(store.service()).toEqual(SERVICE);
      expect(store.nodes()).toEqual([nodeRecord(1)]);
      expect(store.operation()).toMatchObject({ phase: null, params: { ids: ['node-1'] } });
      expect(store.events(1)[0]!.message).toBe('kept');
    });

    // Only a durable store promises this; for the others the case is not defined at all.
    const durably: (name: string, fn: () => void) => void = options.durable ? (n, fn) => it(n, fn) : () => undefined;
    durably('keeps everything written when it is reopened', () => {
      store.createService(SERVICE);
      store.updateService({ state: 'ADAPTING', nextSeq: 3 });
      store.insertNode(nodeRecord(1, { role: 'master', status: 'ready', host: '127.0.0.2', agentPort: 5555, mysqlPort: 3306 }));
      store.insertNode(nodeRecord(2, { status: 'created', host: '127.0.0.3', agentPort: 5556, mysqlPort: 3307 }));
      const op = store.beginOperation('add_nodes', { replacement: false });
      store.updateOperation({ attempts: 1 });
      const entry = store.journal('provision', { ids: ['node-2'], masterId: 'node-1' });
      store.journalOutcome(entry, 'failed: timeout');
      store.addEvent('add_nodes: provisioning node-2 from a snapshot of node-1');
      const before = { service: store.service(), nodes: store.nodes(), operation: store.operation(), events: store.events(10), history: h.history?.() };
      const reopened = again();
      expect({ service: reopened.service(), nodes: reopened.nodes(), operation: reopened.operation(), events: reopened.events(10), history: h.history?.() }).toEqual(before);
      expect(reopened.operation()).toEqual({ ...op, attempts: 1 });
      expect(() => reopened.beginOperation('shutdown', {})).toThrow();
    });

    it('refuses to be used once closed', () => {
      store.createService(SERVICE);
      store.close();
      expect(() => store.service()).toThrow();
      expect(() => store.addEvent('late')).toThrow();
    });
  });
}
