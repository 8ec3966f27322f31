import type { CloudDriver, CloudNode, NodeCredentials } from '../../src/cloud/driver.js';
import type { AgentDirectory, AgentPort } from '../../src/manager/agent-port.js';
import type { Gtid } from '../../src/protocol/gtid.js';
import type { LivenessProbe } from '../../src/manager/observe.js';
import { AppError } from '../../src/util/errors.js';
import { FakeAgent, type FakeNodeState } from './fake-agent.js';
import { FakeCloudDriver } from './fake-cloud-driver.js';
import { FakeServer } from './fake-server.js';

/** Thrown by a call when the test has decided the manager dies right there (see `crashAfter`). */
export class ManagerCrash extends Error {
  constructor(readonly effect: number) {
    super(`the manager died after effect ${effect}`);
    this.name = 'ManagerCrash';
  }
}

/** Agent methods that change something: the points a manager can die after. */
const EFFECTS = new Set(['init_server', 'configure_master', 'configure_replica', 'provision_from', 'stop_replica_io', 'promote', 'set_read_only', 'fence', 'set_password', 'ensure_accounts', 'authorize_peer', 'revoke_peer', 'stop']);

/** How many rounds a replica's IO thread waits on a silent (frozen) master before it gives up on it (slave_net_timeout). */
export const NET_TIMEOUT_TICKS = 3;

/**
 * A whole fake deployment for the manager's unit tests: the cloud (FakeCloudDriver, which keeps
 * its contract), one FakeAgent per node it creates, replication between their FakeServers, and
 * the liveness probe. Machines, agents and servers outlive a manager that dies, as real ones do.
 * Test controls: write on a node, kill an agent, crash, freeze or break a server, make a node
 * vanish, and die after the n-th effect.
 */
export class FakeCluster implements CloudDriver, AgentDirectory {
  readonly name = 'fake';
  readonly nodeHost = '127.0.0.1';
  readonly cloud = new FakeCloudDriver();
  private readonly nodes = new Map<string, FakeNodeState>();
  private effects = 0;
  private crashAt: number | null = null;
  /** Every acknowledged write: none may ever be lost. */
  readonly acknowledged: Gtid[] = [];

  // ---- CloudDriver ----

  async createNode(id: string, credentials?: NodeCredentials): Promise<CloudNode> {
    this.beforeEffect();
    const c = await this.cloud.createNode(id);
    if (!this.nodes.has(id)) this.nodes.set(id, { id, host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, agentUp: true, server: null, role: 'none', grants: new Set(), calls: [] });
    void credentials;
    this.afterEffect();
    return c;
  }

  async listNodes(): Promise<CloudNode[]> {
    return this.cloud.listNodes();
  }

  async destroyNode(id: string): Promise<void> {
    this.beforeEffect();
    await this.cloud.destroyNode(id);
    this.nodes.delete(id);
    this.afterEffect();
  }

  // ---- AgentDirectory ----

  for(node: { id: string; host: string | null; agentPort: number | null }): AgentPort {
    if (node.host === null || node.agentPort === null) throw new AppError('WRONG_STATE', `${node.id} has no address yet`);
    const state = [...this.nodes.values()].find((n) => n.host === node.host && n.agentPort === node.agentPort);
    if (!state) return new FakeAgent(this, { id: node.id, host: node.host, agentPort: node.agentPort, mysqlPort: 0, agentUp: false, server: null, role: 'none', grants: new Set(), calls: [] });
    return new FakeAgent(this, state);
  }

  /** The liveness probe: a server greets when it runs and is not frozen. */
  readonly probe: LivenessProbe = async (host, port) => {
    const n = this.nodeAt(host, port);
    return n?.server?.state === 'running' && !n.server.frozen;
  };

  // ---- what the agents need ----

  nodeAt(host: string, mysqlPort: number): FakeNodeState | undefined {
    return [...this.nodes.values()].find((n) => n.host === host && n.mysqlPort === mysqlPort);
  }

  agentAt(host: string, agentPort: number): FakeNodeState | undefined {
    return [...this.nodes.values()].find((n) => n.host === host && n.agentPort === agentPort);
  }

  /** Before an agent call: counts effects, and dies where the test said. */
  beforeCall(_node: FakeNodeState, method: string): void {
    if (EFFECTS.has(method)) this.beforeEffect();
  }

  afterCall(_node: FakeNodeState, method: string): void {
    if (EFFECTS.has(method)) this.afterEffect();
  }

  private beforeEffect(): void {
    if (this.crashed) throw new ManagerCrash(this.effects);
  }

  private afterEffect(): void {
    this.effects++;
    if (this.crashAt !== null && this.effects === this.crashAt) {
      this.crashed = true;
      this.onCrash?.();
      throw new ManagerCrash(this.effects);
    }
  }

  /** The manager died at the point the test chose: every later effect of it fails. */
  crashed = false;
  /** Told when the manager dies (the harness closes its store then). */
  onCrash: (() => void) | null = null;

  // ---- replication ----

  /** One round of replication: every IO thread fetches from its master, every SQL thread applies. */
  tick(): void {
    for (const n of this.nodes.values()) {
      const s = n.server;
      const r = s?.replication;
      if (!s || !r || s.state !== 'running' || s.frozen) continue;
      if (r.ioRunning !== 'No') this.fetch(n, s);
      s.applyRelay();
    }
  }

  /** Ticks until nothing moves any more (at most 20 rounds). */
  settle(): void {
    for (let i = 0; i < 20; i++) {
      const before = this.fingerprint();
      this.tick();
      if (this.fingerprint() === before) return;
    }
  }

  private fingerprint(): string {
    return [...this.nodes.values()].map((n) => `${n.id}:${n.server?.binlog.length}:${n.server?.replication?.relay.length}:${n.server?.replication?.ioRunning}:${n.server?.replication?.sqlRunning}`).join('|');
  }

  private fetch(n: FakeNodeState, s: FakeServer): void {
    const r = s.replication!;
    const master = this.nodeAt(r.masterHost, r.masterPort);
    const ms = master?.server;
    if (!master || !ms || ms.state !== 'running') {
      r.ioRunning = 'Connecting';
      r.lastIoError = `error reconnecting to master '${r.user}@${r.masterHost}:${r.masterPort}' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server`;
      r.lastIoErrno = 2003;
      return;
    }
    if (ms.frozen) {
      // A frozen master keeps its sockets: the replica believes in it until slave_net_timeout.
      if (r.ioRunning === 'Yes' && ++r.silentTicks < NET_TIMEOUT_TICKS) return;
      r.ioRunning = 'Connecting';
      r.lastIoError = 'Slave I/O thread: Failed reading log event, reconnecting to retry (slave_net_timeout)';
      r.lastIoErrno = 2013;
      return;
    }
    r.silentTicks = 0;
    if (r.ioRunning === 'Connecting') {
      // A replica asks for the GTID after its position: each must be in the master's binary log.
      const same = (g: Gtid) => (x: Gtid): boolean => x.domain === g.domain && x.server === g.server && x.seq === g.seq;
      const missing = r.ioPos.find((g) => !ms.binlog.some(same(g)) && !ms.currentPos.some(same(g)));
      if (missing) {
        r.ioRunning = 'No';
        r.lastIoErrno = 1236;
        r.lastIoError = `Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID ${missing.domain}-${missing.server}-${missing.seq}, which is not in the master's binlog'`;
        return;
      }
      r.ioRunning = 'Yes';
      r.lastIoError = '';
      r.lastIoErrno = 0;
    }
    for (const g of ms.binlog) {
      const have = r.ioPos.find((x) => x.domain === g.domain);
      if (have && have.seq >= g.seq) continue;
      r.relay.push(g);
      r.ioPos = [...r.ioPos.filter((x) => x.domain !== g.domain), g].sort((a, b) => a.domain - b.domain);
    }
  }

  // ---- test controls ----

  /** The state of a node (its agent and server), for assertions. */
  node(id: string): FakeNodeState {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no fake node ${id}`);
    return n;
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Every node the cloud holds. */
  all(): FakeNodeState[] {
    return [...this.nodes.values()];
  }

  /**
   * `n` transactions on the node (it must be a writable master); each is acknowledged when a
   * replica received it (semi-sync) or none is connected. Returns how many were acknowledged.
   */
  write(id: string, n = 1): number {
    const node = this.node(id);
    let acked = 0;
    for (let i = 0; i < n; i++) {
      const g = node.server?.write();
      if (!g) break;
      const receivers = this.all().filter((x) => x.server?.state === 'running' && x.server.replication?.masterId === id && x.server.replication.ioRunning === 'Yes');
      this.tick();
      const received = receivers.some((x) => x.server!.replication?.ioPos.some((p) => p.domain === g.domain && p.seq >= g.seq));
      if (received || receivers.length === 0) {
        this.acknowledged.push(g);
        acked++;
      }
    }
    return acked;
  }

  /** A transaction written on the node behind replication's back (as root with sql_log_bin on): an errant one. */
  errant(id: string): Gtid {
    const g = this.node(id).server!.write(true);
    if (!g) throw new Error(`${id} cannot write`);
    return g;
  }

  /** The node's agent process dies (its server runs on); the cloud still lists the machine. */
  killAgent(id: string): void {
    this.node(id).agentUp = false;
  }

  /** The node's agent comes back. */
  startAgent(id: string): void {
    this.node(id).agentUp = true;
  }

  /** The node's server dies (SIGKILL); its agent answers. */
  crashServer(id: string): void {
    const s = this.node(id).server!;
    s.state = 'crashed';
    s.frozen = false;
  }

  /** SIGSTOP (`frozen`) or SIGCONT of the node's server. */
  freezeServer(id: string, frozen = true): void {
    this.node(id).server!.frozen = frozen;
  }

  /**
   * The node's server crashes and comes back without its relay log (what it received but had not
   * applied): its IO position falls back to what it applied, and it fetches again from there.
   */
  loseRelayLog(id: string): void {
    const s = this.node(id).server!;
    const r = s.replication!;
    r.relay = [];
    r.ioPos = s.slavePos;
    r.ioRunning = 'Connecting';
  }

  /** The machine dies: its agent, its server, gone; the cloud lists it no more. */
  vanish(id: string): void {
    this.cloud.vanish(id);
    this.nodes.delete(id);
  }

  /** The manager dies right after its `k`-th effect (counted from now), or never (null). */
  crashAfter(k: number | null): void {
    this.crashAt = k === null ? null : this.effects + k;
    this.crashed = false;
  }

  /** Effects so far (agent calls that change something, machines created or destroyed). */
  get effectCount(): number {
    return this.effects;
  }
}
