import type { Readable } from 'node:stream';
import type { AgentApi, AgentStatus, LoadAnswer, Login } from '../../src/protocol/agent-api.js';
import type { ParamsOf, ResultOf } from '../../src/protocol/method.js';
import type { AgentJsonMethod, AgentPort, CallOptions } from '../../src/manager/agent-port.js';
import { parseGtidPosition, gtidContains } from '../../src/protocol/gtid.js';
import { AppError } from '../../src/util/errors.js';
import { FakeServer } from './fake-server.js';
import type { FakeCluster } from './fake-cluster.js';

/** What the agent of a fake node remembers (its agent.json). */
export interface FakeNodeState {
  id: string;
  host: string;
  agentPort: number;
  mysqlPort: number;
  /** The agent process answers. */
  agentUp: boolean;
  server: FakeServer | null;
  role: 'master' | 'replica' | 'none';
  /** Peers allowed one snapshot. */
  grants: Set<string>;
  /** Every call the agent answered, for tests that look at what the manager asked. */
  calls: string[];
  /** Fenced by a failover (cleared when it is made a replica or a master again). */
  fenced?: boolean;
}

type Handler = (node: FakeNodeState, params: never) => unknown;

const RESERVED = new Set(['root', 'mariadb.sys', 'mysql', 'public', 'cps-mysql']);

/**
 * A node's agent as a stateful fake, behind the same AgentPort as the real RPC client, holding
 * to the same contract (test/contract/agent.contract.ts): the same results and error codes for
 * the same calls. Its server is a FakeServer; replication moves when the cluster ticks.
 */
export class FakeAgent implements AgentPort {
  constructor(
    private readonly cluster: FakeCluster,
    readonly node: FakeNodeState,
  ) {}

  async call<K extends AgentJsonMethod>(name: K, params: ParamsOf<AgentApi[K]>, _options?: CallOptions): Promise<ResultOf<AgentApi[K]>> {
    this.cluster.beforeCall(this.node, name);
    if (!this.node.agentUp) throw new AppError('PEER_FAILED', `${name}: cannot reach https://${this.node.host}:${this.node.agentPort}/`);
    const s = this.node.server;
    // A frozen server: the agent answers, but whatever needs the server waits past its deadline.
    if (s?.frozen && name !== 'check_agent_process' && name !== 'fence' && name !== 'authorize_peer' && name !== 'revoke_peer' && name !== 'get_status') {
      throw new AppError('TIMEOUT', `${name}: no answer in time from https://${this.node.host}:${this.node.agentPort}/`);
    }
    this.node.calls.push(name);
    const handler = (HANDLERS as Record<string, Handler>)[name];
    if (!handler) throw new AppError('METHOD_NOT_FOUND', `method not found: ${name}`);
    const result = handler.call(this, this.node, params as never) as ResultOf<AgentApi[K]>;
    this.cluster.afterCall(this.node, name);
    return structuredClone(result);
  }

  async dump(): Promise<Readable> {
    throw new AppError('ENGINE_FAILED', 'the fake agent holds no SQL data to dump');
  }

  async snapshot(): Promise<Readable> {
    throw new AppError('ENGINE_FAILED', 'the fake agent holds no data files to copy');
  }

  async loadDump(_file: Readable, _login: Login): Promise<LoadAnswer> {
    throw new AppError('ENGINE_FAILED', 'the fake agent loads no dump');
  }

  async restoreBackup(): Promise<never> {
    throw new AppError('ENGINE_FAILED', 'the fake agent holds no data files to restore');
  }

  async replayBinlog(): Promise<never> {
    throw new AppError('ENGINE_FAILED', 'the fake agent replays no binary log');
  }

  /** The cluster this agent is part of. */
  get owner(): FakeCluster {
    return this.cluster;
  }
}

function running(node: FakeNodeState, method: string): FakeServer {
  const s = node.server;
  const state = s === null ? 'uninitialized' : s.state;
  if (!s || s.state !== 'running') throw new AppError('WRONG_STATE', `wrong state to ${method}: mariadbd is ${state} (accepted: running)`, { details: { state } });
  return s;
}

function status(this: FakeAgent, node: FakeNodeState): AgentStatus {
  const s = node.server;
  // A fenced server found writable is made read-only again (as the real agent does when it looks).
  if (node.fenced && s && s.state === 'running' && !s.frozen && !s.readOnly) s.readOnly = true;
  const running = s !== null && s.state === 'running';
  // What a running server tells its agent; a frozen one tells nothing within the deadline.
  const up = running && !s.frozen;
  const r = up ? s.replication : null;
  return {
    agentVersion: 'fake',
    mysqld: {
      state: s === null ? 'uninitialized' : s.state,
      answers: up,
      pid: running ? 1000 + s.serverId : null,
      port: node.mysqlPort,
      host: node.host,
      lastExit: s?.state === 'crashed' ? { code: null, signal: 'SIGKILL', at: '2026-11-25T18:00:00.000Z' } : null,
    },
    serverId: s?.serverId ?? null,
    role: node.role,
    readOnly: up ? s.readOnly : null,
    gtid: up ? s.positions() : null,
    replication: r
      ? {
          masterHost: r.masterHost,
          masterPort: r.masterPort,
          ioRunning: r.ioRunning,
          sqlRunning: r.sqlRunning,
          secondsBehindMaster: r.sqlRunning === 'Yes' && r.ioRunning === 'Yes' ? (s!.reportedLag ?? (r.relay.length === 0 ? 0 : s!.lagging ? 60 : 1)) : null,
          gtidIoPos: r.ioPos.map((g) => `${g.domain}-${g.server}-${g.seq}`).join(','),
          lastIoError: r.lastIoError,
          lastIoErrno: r.lastIoErrno,
          lastSqlError: r.lastSqlError,
          lastSqlErrno: r.lastSqlErrno,
        }
      : null,
    busy: null,
  };
}

const HANDLERS = {
  check_agent_process: () => ({ ok: true, pid: 4242, version: 'fake' }),

  get_status: status,

  init_server(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['init_server']>) {
    if (node.server && node.server.serverId !== p.serverId) throw new AppError('WRONG_STATE', `this node was initialized with serverId ${node.server.serverId}, not ${p.serverId}`);
    if (!node.server) node.server = new FakeServer(p.serverId);
    else if (node.server.state !== 'running') {
      // A server that comes back is read-only until the manager says otherwise.
      node.server.state = 'running';
      node.server.readOnly = true;
    }
    return status.call(this, node);
  },

  configure_master(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['configure_master']>) {
    const s = running(node, 'configure_master');
    if (s.replication) throw new AppError('WRONG_STATE', `wrong state to configure_master: this node replicates from ${s.replication.masterHost}:${s.replication.masterPort}; call promote instead`);
    s.passwords.set(p.replUser, p.replPassword);
    s.readOnly = false;
    node.role = 'master';
    node.fenced = false;
    return status.call(this, node);
  },

  configure_replica(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['configure_replica']>) {
    const s = running(node, 'configure_replica');
    if (p.master.host === node.host && p.master.port === node.mysqlPort) throw new AppError('INVALID_PARAMS', 'configure_replica: a node cannot replicate from itself');
    const master = this.owner.nodeAt(p.master.host, p.master.port);
    const r = s.replication;
    const same = p.gtidSlavePos === undefined && r !== null && r.masterHost === p.master.host && r.masterPort === p.master.port && r.sqlRunning === 'Yes' && r.ioRunning !== 'No' && s.readOnly;
    if (!same) {
      s.readOnly = true;
      s.slavePos = p.gtidSlavePos !== undefined ? (parseGtidPosition(p.gtidSlavePos) ?? []) : s.currentPos;
      s.replication = {
        masterId: master?.id ?? '',
        masterHost: p.master.host,
        masterPort: p.master.port,
        user: p.master.user,
        ioRunning: 'Connecting',
        sqlRunning: 'Yes',
        lastIoError: '',
        lastIoErrno: 0,
        lastSqlError: '',
        lastSqlErrno: 0,
        relay: [],
        ioPos: s.slavePos,
        silentTicks: 0,
      };
    }
    node.role = 'replica';
    node.fenced = false;
    this.owner.tick();
    return status.call(this, node);
  },

  authorize_peer: (node: FakeNodeState, p: ParamsOf<AgentApi['authorize_peer']>) => {
    node.grants.add(p.peer);
    return { peer: p.peer, until: '2026-11-25T19:00:00.000Z' };
  },

  revoke_peer: (node: FakeNodeState, p: ParamsOf<AgentApi['revoke_peer']>) => ({ peer: p.peer, revoked: node.grants.delete(p.peer) }),

  provision_from(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['provision_from']>) {
    const source = this.owner.agentAt(p.source.host, p.source.port);
    if (node.server) {
      const r = node.server.replication;
      if (node.role === 'replica' && r && r.masterHost === p.master.host && r.masterPort === p.master.port && node.server.serverId === p.serverId) {
        if (node.server.state !== 'running') node.server.state = 'running';
        return { ...status.call(this, node), restoredGtid: '', bytes: 0 };
      }
      throw new AppError('WRONG_STATE', 'wrong state to provision_from: this node already holds data (accepted: a new node)');
    }
    if (!source?.server || source.server.state !== 'running' || source.server.frozen || !source.agentUp) throw new AppError('PEER_FAILED', `provision_from: cannot reach the source at ${p.source.host}:${p.source.port}`);
    if (!source.grants.has(node.id)) throw new AppError('FORBIDDEN', `forbidden: ${node.id} may not call stream_snapshot on this node`);
    source.grants.delete(node.id);
    // A physical copy: the data, not the binary log; the copy knows the position it was taken at.
    const s = new FakeServer(p.serverId);
    s.slavePos = source.server.currentPos;
    for (const [u, pw] of source.server.passwords) s.passwords.set(u, pw);
    node.server = s;
    const restoredGtid = s.positions().currentPos;
    HANDLERS.configure_replica.call(this, node, { master: p.master, gtidSlavePos: restoredGtid });
    return { ...status.call(this, node), restoredGtid, bytes: 1_000_000 };
  },

  wait_for_gtid(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['wait_for_gtid']>) {
    const s = running(node, 'wait_for_gtid');
    const want = parseGtidPosition(p.gtid) ?? [];
    this.owner.settle();
    return { reached: gtidContains(s.currentPos, want), gtid: s.positions() };
  },

  stop_replica_io(this: FakeAgent, node: FakeNodeState) {
    const s = running(node, 'stop_replica_io');
    if (s.replication) s.replication.ioRunning = 'No';
    return status.call(this, node);
  },

  promote(this: FakeAgent, node: FakeNodeState) {
    const s = running(node, 'promote');
    s.replication = null;
    s.readOnly = false;
    node.role = 'master';
    node.fenced = false;
    return status.call(this, node);
  },

  fence(node: FakeNodeState) {
    const s = node.server;
    node.fenced = true;
    if (!s || s.state !== 'running') return { fenced: 'down' as const };
    if (s.frozen) {
      // It does not answer in time: killed, it restarts read-only.
      s.state = 'stopped';
      s.frozen = false;
      return { fenced: 'killed' as const };
    }
    s.readOnly = true;
    return { fenced: 'read_only' as const };
  },

  set_read_only(this: FakeAgent, node: FakeNodeState, p: ParamsOf<AgentApi['set_read_only']>) {
    running(node, 'set_read_only').readOnly = p.readOnly;
    return status.call(this, node);
  },

  set_password(node: FakeNodeState, p: ParamsOf<AgentApi['set_password']>) {
    if (RESERVED.has(p.user.toLowerCase())) throw new AppError('INVALID_PARAMS', `set_password: the user '${p.user}' is reserved`);
    const s = running(node, 'set_password');
    if (node.role !== 'master') throw new AppError('WRONG_STATE', `wrong state to set_password: this node is ${node.role === 'replica' ? 'a replica' : 'not a master'}; call it on the master (replicas follow by replication)`);
    s.passwords.set(p.user, p.password);
    return { user: p.user };
  },

  ensure_accounts(node: FakeNodeState, p: ParamsOf<AgentApi['ensure_accounts']>) {
    for (const u of [p.service.user, p.replication.user]) if (RESERVED.has(u.toLowerCase())) throw new AppError('INVALID_PARAMS', `ensure_accounts: the user '${u}' is reserved`);
    const s = running(node, 'ensure_accounts');
    const changed: Record<string, string[]> = {};
    for (const l of [p.replication, p.service]) {
      if (s.passwords.get(l.user) !== l.password) {
        s.passwords.set(l.user, l.password);
        changed[`${l.user}@%`] = ['login'];
      }
    }
    return { changed };
  },

  get_counters(node: FakeNodeState) {
    const s = running(node, 'get_counters');
    return { at: '2026-11-25T18:00:00.000Z', uptimeSeconds: 100, status: { Binlog_commits: s.binlog.length }, statements: { count: s.binlog.length, errors: 0, latencyPicoseconds: 0 } };
  },

  stop(this: FakeAgent, node: FakeNodeState) {
    if (node.server && node.server.state === 'running') node.server.state = 'stopped';
    return status.call(this, node);
  },
};
