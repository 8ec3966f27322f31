import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import type { NodeRole, NodeStatus, ServiceEvent } from '../protocol/manager-api.js';
import { parseOperation, type OperationKind, type ParamsByKind } from '../protocol/operations.js';
import type { ServiceState } from '../protocol/service-states.js';
import { MIGRATIONS } from './schema.js';
import { HostStore } from './host-store.js';
import type { EndedOperation, NewNodeRecord, NewServiceRecord, NodeRecord, OperationPatch, OperationRecord, ServiceRecord, StateStore } from './store.js';

type Row = Record<string, unknown>;

/** The state store in one SQLite file (WAL, synchronous=FULL), readable by its owner only. */
export class SqliteStore implements StateStore {
  private readonly db: Database.Database;
  /** The static cloud's hosts, tokens and deny list, in the same file. */
  readonly hostStore: HostStore;
  /** Statements prepared once, by their SQL text (preparing is most of a small query's cost). */
  private readonly statements = new Map<string, Database.Statement>();
  private changes = 0;

  get version(): number {
    return this.changes;
  }

  /** The prepared statement of `sql`, prepared on first use. */
  private q(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (st === undefined) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Opens (or creates) the store at `path` and brings its schema up to date. */
  constructor(path: string) {
    const fresh = !existsSync(path);
    this.db = new Database(path);
    if (fresh) chmodSync(path, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.hostStore = new HostStore(this.db);
  }

  private migrate(): void {
    const version = Number(this.db.pragma('user_version', { simple: true }));
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  service(): ServiceRecord | null {
    const r = this.q('SELECT * FROM service WHERE id = 1').get() as Row | undefined;
    if (!r) return null;
    return {
      state: r['state'] as ServiceState,
      error: (r['error'] as string | null) ?? null,
      cloud: String(r['cloud']),
      user: String(r['user']),
      password: String(r['password']),
      replUser: String(r['repl_user']),
      replPassword: String(r['repl_password']),
      desiredReplicas: Number(r['desired_replicas']),
      nextSeq: Number(r['next_seq']),
      failoverEnabled: Number(r['failover_enabled']) === 1,
      failoverBlockedUntil: (r['failover_blocked_until'] as string | null) ?? null,
      pendingPassword: (r['pending_password'] as string | null) ?? null,
      lastMasterGtid: (r['last_master_gtid'] as string | null) ?? null,
      outageSince: (r['outage_since'] as string | null) ?? null,
    };
  }

  createService(s: NewServiceRecord): void {
    this.changes++;
    this.q(
        `INSERT INTO service (id, state, error, cloud, user, password, repl_user, repl_password, desired_replicas, next_seq, failover_enabled, failover_blocked_until, pending_password, last_master_gtid, outage_since, updated_at)
         VALUES (1, @state, @error, @cloud, @user, @password, @replUser, @replPassword, @desiredReplicas, @nextSeq, @failover, @failoverBlockedUntil, @pendingPassword, @lastMasterGtid, @outageSince, @now)`,
      )
      .run({ ...s, lastMasterGtid: s.lastMasterGtid ?? null, outageSince: s.outageSince ?? null, failover: s.failoverEnabled ? 1 : 0, now: now() });
  }

  updateService(patch: Partial<ServiceRecord>): ServiceRecord {
    this.changes++;
    const cur = this.service();
    if (!cur) throw new Error('no service record');
    const next = { ...cur, ...patch };
    this.q(
        `UPDATE service SET state = @state, error = @error, cloud = @cloud, user = @user, password = @password,
         repl_user = @replUser, repl_password = @replPassword, desired_replicas = @desiredReplicas, next_seq = @nextSeq,
         failover_enabled = @failover, failover_blocked_until = @failoverBlockedUntil, pending_password = @pendingPassword,
         last_master_gtid = @lastMasterGtid, outage_since = @outageSince, updated_at = @now WHERE id = 1`,
      )
      .run({ ...next, error: next.error ?? null, pendingPassword: next.pendingPassword ?? null, failover: next.failoverEnabled ? 1 : 0, now: now() });
    return next;
  }

  nodes(): NodeRecord[] {
    return (this.q('SELECT * FROM nodes ORDER BY server_id').all() as Row[]).map(nodeOf);
  }

  node(id: string): NodeRecord | null {
    const r = this.q('SELECT * FROM nodes WHERE id = ?').get(id) as Row | undefined;
    return r ? nodeOf(r) : null;
  }

  insertNode(n: NewNodeRecord): void {
    this.changes++;
    this.q(
        `INSERT INTO nodes (id, role, status, server_id, host, agent_port, mysql_port, health_port, received_gtid, repairs, created_at)
         VALUES (@id, @role, @status, @serverId, @host, @agentPort, @mysqlPort, @healthPort, @receivedGtid, @repairs, @now)`,
      )
      .run({ ...n, receivedGtid: n.receivedGtid ?? null, repairs: n.repairs ?? 0, now: now() });
  }

  updateNode(id: string, patch: Partial<Omit<NodeRecord, 'id'>>): void {
    this.changes++;
    const cur = this.node(id);
    if (!cur) return;
    const n = { ...cur, ...patch };
    this.q(
        'UPDATE nodes SET role = @role, status = @status, server_id = @serverId, host = @host, agent_port = @agentPort, mysql_port = @mysqlPort, health_port = @healthPort, received_gtid = @receivedGtid, repairs = @repairs WHERE id = @id',
      )
      .run(n);
  }

  deleteNode(id: string): void {
    this.changes++;
    this.q('DELETE FROM nodes WHERE id = ?').run(id);
  }

  operation(): OperationRecord | null {
    const r = this.q('SELECT * FROM operations WHERE outcome IS NULL ORDER BY id DESC LIMIT 1').get() as Row | undefined;
    return r ? operationOf(r) : null;
  }

  beginOperation<K extends OperationKind>(kind: K, params: ParamsByKind[K]): OperationRecord {
    if (this.operation()) throw new Error('an operation is already under way');
    this.changes++;
    parseOperation({ kind, params, phase: null, attempts: 0, abortError: null });
    this.q('INSERT INTO operations (kind, params, started_at) VALUES (?, ?, ?)').run(kind, JSON.stringify(params), now());
    return this.operation()!;
  }

  updateOperation(patch: OperationPatch): void {
    this.changes++;
    const cur = this.operation();
    if (!cur) return;
    const { id: _id, startedAt: _startedAt, ...op } = cur;
    const next = parseOperation({ ...op, ...definedOnly(patch) });
    this.q('UPDATE operations SET phase = ?, attempts = ?, params = ?, abort_error = ? WHERE id = ?').run(next.phase, next.attempts, JSON.stringify(next.params), next.abortError, cur.id);
  }

  lastEndedOperation(): EndedOperation | null {
    const r = this.q('SELECT * FROM operations WHERE outcome IS NOT NULL ORDER BY id DESC LIMIT 1').get() as Row | undefined;
    if (!r) return null;
    return { ...operationOf(r), outcome: r['outcome'] === 'done' ? 'done' : 'failed', error: (r['error'] as string | null) ?? null };
  }

  endedOperations(): { kind: OperationKind; outcome: 'done' | 'failed'; seconds: number }[] {
    const rows = this.q('SELECT kind, outcome, started_at, ended_at FROM operations WHERE outcome IS NOT NULL ORDER BY id').all() as Row[];
    return rows.map((r) => ({
      kind: r['kind'] as OperationKind,
      outcome: r['outcome'] === 'done' ? 'done' : 'failed',
      seconds: Math.max(0, (Date.parse(String(r['ended_at'] ?? r['started_at'])) - Date.parse(String(r['started_at']))) / 1000),
    }));
  }

  endOperation(outcome: 'done' | 'failed', error?: string): void {
    this.changes++;
    this.q('UPDATE operations SET outcome = ?, error = ?, ended_at = ? WHERE outcome IS NULL').run(outcome, error ?? null, now());
  }

  journal(step: string, detail: Record<string, unknown>): number {
    this.changes++;
    const op = this.operation();
    const info = this.q('INSERT INTO journal (operation_id, step, detail, at) VALUES (?, ?, ?, ?)').run(op?.id ?? null, step, JSON.stringify(detail), now());
    return Number(info.lastInsertRowid);
  }

  journalOutcome(id: number, outcome: string): void {
    this.changes++;
    this.q('UPDATE journal SET outcome = ? WHERE id = ?').run(outcome, id);
  }

  addEvent(message: string): void {
    this.changes++;
    this.q('INSERT INTO events (at, message) VALUES (?, ?)').run(now(), message);
  }

  events(limit: number): ServiceEvent[] {
    const rows = this.q('SELECT at, message FROM events ORDER BY id DESC LIMIT ?').all(limit) as Row[];
    return rows.reverse().map((r) => ({ at: String(r['at']), message: String(r['message']) }));
  }

  close(): void {
    this.db.close();
  }
}

/** A key set to `undefined` in a patch counts as absent. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function nodeOf(r: Row): NodeRecord {
  return {
    id: String(r['id']),
    role: r['role'] as NodeRole,
    status: r['status'] as NodeStatus,
    serverId: Number(r['server_id']),
    host: (r['host'] as string | null) ?? null,
    agentPort: r['agent_port'] === null ? null : Number(r['agent_port']),
    mysqlPort: r['mysql_port'] === null ? null : Number(r['mysql_port']),
    healthPort: r['health_port'] === null || r['health_port'] === undefined ? null : Number(r['health_port']),
    receivedGtid: (r['received_gtid'] as string | null) ?? null,
    repairs: Number(r['repairs'] ?? 0),
  };
}

function now(): string {
  return new Date().toISOString();
}

/** An `operations` row as an operation record, read through the operation schema (throws for a row that is not one). */
function operationOf(r: Row): OperationRecord {
  const op = parseOperation({
    kind: String(r['kind']),
    params: JSON.parse(String(r['params'])) as unknown,
    phase: (r['phase'] as string | null) ?? null,
    attempts: Number(r['attempts']),
    abortError: (r['abort_error'] as string | null) ?? null,
  });
  return { ...op, id: Number(r['id']), startedAt: String(r['started_at']) };
}
