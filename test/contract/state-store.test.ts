import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { parseOperation } from '../../src/protocol/operations.js';
import type { StateStore } from '../../src/store/store.js';
import { MemoryStore, type JournalEntry, type OperationHistory } from '../fakes/memory-store.js';
import { stateStoreContract, type StateStoreHarness } from './state-store.contract.js';

type Row = Record<string, unknown>;

/** Reads the journal and the operations of a store file through a connection of its own. */
function readHistory(path: string): { journal: JournalEntry[]; operations: OperationHistory[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const journal = (db.prepare('SELECT * FROM journal ORDER BY id').all() as Row[]).map(
      (r): JournalEntry => ({
        id: Number(r['id']),
        operationId: r['operation_id'] === null ? null : Number(r['operation_id']),
        step: String(r['step']),
        detail: JSON.parse(String(r['detail'])) as Record<string, unknown>,
        outcome: (r['outcome'] as string | null) ?? null,
      }),
    );
    const operations = (db.prepare('SELECT * FROM operations ORDER BY id').all() as Row[]).map(
      (r): OperationHistory => ({
        ...parseOperation({
          kind: String(r['kind']),
          params: JSON.parse(String(r['params'])) as unknown,
          phase: (r['phase'] as string | null) ?? null,
          attempts: Number(r['attempts']),
          abortError: (r['abort_error'] as string | null) ?? null,
        }),
        id: Number(r['id']),
        startedAt: String(r['started_at']),
        outcome: (r['outcome'] as 'done' | 'failed' | null) ?? null,
        error: (r['error'] as string | null) ?? null,
      }),
    );
    return { journal, operations };
  } finally {
    db.close();
  }
}

function sqliteHarness(): StateStoreHarness & { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'state-store-'));
  const path = join(dir, 'manager.db');
  let current: StateStore = new SqliteStore(path);
  return {
    dir,
    path,
    store: current,
    reopen: () => {
      current.close();
      current = new SqliteStore(path);
      return current;
    },
    cleanup: () => {
      current.close();
      rmSync(dir, { recursive: true, force: true });
    },
    history: () => readHistory(path),
  };
}

stateStoreContract('SqliteStore', sqliteHarness, { durable: true });

stateStoreContract('MemoryStore', () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close(), history: () => ({ journal: store.journalEntries(), operations: store.operationHistory() }) };
}, { durable: false });

describe('SqliteStore', () => {
  let h: (StateStoreHarness & { path: string; dir: string }) | null = null;
  afterEach(() => {
    h?.cleanup();
    h = null;
  });

  it('creates its file readable and writable by its owner only (mode 0600), write-ahead log and index included', () => {
    h = sqliteHarness();
    h.store.addEvent('something written, so the log exists');
    expect(statSync(h.path).mode & 0o777).toBe(0o600);
    for (const log of [`${h.path}-wal`, `${h.path}-shm`]) {
      expect(existsSync(log)).toBe(true);
      expect(statSync(log).mode & 0o777).toBe(0o600);
    }
  });

  it('has every write committed when the call returns: a copy of its files taken without closing it holds them', () => {
    h = sqliteHarness();
    h.store.createService({ state: 'RUNNING', error: null, cloud: 'local', user: 'u', password: 'p', replUser: 'r', replPassword: 'q', desiredReplicas: 1, nextSeq: 3, failoverEnabled: true, failoverBlockedUntil: null, pendingPassword: null });
    h.store.insertNode({ id: 'node-1', role: 'master', status: 'ready', serverId: 1, host: '127.0.0.2', agentPort: 5555, mysqlPort: 3306, healthPort: 3307 });
    h.store.beginOperation('remove_nodes', { ids: ['node-2'] });
    // As if the power went out now: the files as they are on disk, the store never closed.
    const crash = join(h.dir, 'crash.db');
    copyFileSync(h.path, crash);
    copyFileSync(`${h.path}-wal`, `${crash}-wal`);
    const after = new SqliteStore(crash);
    try {
      expect(after.service()?.nextSeq).toBe(3);
      expect(after.nodes().map((n) => n.id)).toEqual(['node-1']);
      expect(after.operation()).toMatchObject({ kind: 'remove_nodes', params: { ids: ['node-2'] } });
    } finally {
      after.close();
    }
  });

  it('opens a state.db written by main at 8370c0d (before typed operations) and reads every operation as typed', () => {
    // test/fixtures/state-8370c0d.db was written by that commit's SqliteStore: an abandoned
    // replacement under way, its reason kept in its parameters, and ended operations with
    // parameters no later version reads.
    const dir = mkdtempSync(join(tmpdir(), 'state-store-'));
    const path = join(dir, 'state.db');
    copyFileSync(join('test', 'fixtures', 'state-8370c0d.db'), path);
    const store = new SqliteStore(path);
    try {
      expect(store.operation()).toEqual({
        id: 4,
        kind: 'add_nodes',
        params: { replacement: true },
        phase: 'aborting',
        attempts: 1,
        abortError: 'add_nodes failed after 3 attempts: provision failed: connection refused',
        startedAt: expect.stringMatching(/^\d{4}-/),
      });
      expect(store.service()).toMatchObject({ state: 'ADAPTING', nextSeq: 5, desiredReplicas: 2, password: 'pw-of-the-service', failoverBlockedUntil: '2026-11-25T18:05:00.000Z', pendingPassword: null });
      expect(store.nodes().map((n) => [n.id, n.role, n.status])).toEqual([
        ['node-1', 'master', 'ready'],
        ['node-2', 'replica', 'ready'],
        ['node-3', 'replica', 'ready'],
        ['node-4', 'replica', 'created'],
      ]);
      expect(store.events(5).map((e) => e.message)).toEqual(['startup complete: master node-1, replicas node-2']);
      store.close();
      expect(readHistory(path).operations.map((o) => [o.kind, o.params, o.phase, o.outcome])).toEqual([
        ['startup', {}, null, 'done'],
        ['add_nodes', { replacement: false }, null, 'done'],
        ['failover', { oldMasterId: 'node-1', automatic: true, candidateId: 'node-2', gtid: '0-1-42' }, 'promoted', 'done'],
        ['add_nodes', { replacement: true }, 'aborting', null],
      ]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a file written by an earlier run without migrating it again', () => {
    h = sqliteHarness();
    h.store.addEvent('first run');
    const reopened = h.reopen!();
    reopened.addEvent('second run');
    expect(reopened.events(10).map((e) => e.message)).toEqual(['first run', 'second run']);
  });
});
