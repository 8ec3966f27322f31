import { AppError, messageOf } from '../../util/errors.js';
import { checkNodeId, type CloudDriver, type CloudNode } from '../driver.js';

/** A joined host as the driver needs it: where its agent and mariadbd serve, and the node it holds. */
export interface PooledHost {
  /** Its address. */
  address: string;
  /** Its agent's port. */
  agentPort: number;
  /** Its mariadbd's port. */
  mysqlPort: number;
  /** Its health checks' port. */
  healthPort: number;
  /** The node it holds, or null while free. */
  nodeId: string | null;
}

/** The pool of joined hosts (the manager's host records: store/host-store.ts). */
export interface HostPool {
  /** Every host. */
  hosts(): PooledHost[];
  /** The host holding a node, or null. */
  hostOf(nodeId: string): PooledHost | null;
  /** Takes a free host for a node (its own again if it holds one), or null when none is free. */
  claimHost(nodeId: string): PooledHost | null;
  /** Gives a node's host back to the pool. */
  releaseHost(nodeId: string): void;
}

/** What the driver asks of a host's agent (over its mutual TLS): that it answers, and that it wipes its node. */
export interface HostAgents {
  /** Resolves when the host's agent answers (within a few seconds). */
  ping(h: PooledHost): Promise<void>;
  /** Has the host's agent stop its mariadbd and delete its data. */
  wipe(h: PooledHost): Promise<void>;
}


/**
 * The `static` cloud: pre-provisioned hosts that joined the manager with a one-time token
 * (`cps-mysql agent join`), as nodes join a kubeadm control plane. A node takes a free host; a
 * destroyed node's host is wiped by its agent and returned to the pool. A host that does not
 * answer stays listed: unreachable is a failure to diagnose, not a machine that was deleted, so a
 * network blip never drops a node from the registry.
 */
export class StaticCloudDriver implements CloudDriver {
  readonly name = 'static';

  constructor(
    private readonly hosts: HostPool,
    private readonly agents: HostAgents,
  ) {}

  /** Takes a free host for the node (its own again if it holds one); WRONG_STATE naming how many are free when none is; PEER_FAILED when its agent does not answer. */
  async createNode(id: string): Promise<CloudNode> {
    checkNodeId(id);
    const h = this.hosts.claimHost(id);
    if (!h) throw new AppError('WRONG_STATE', `no free host for ${id}: ${this.free()} free of ${this.hosts.hosts().length}; join more with 'cps-mysql join-token' and 'cps-mysql agent join'`);
    const node = { id, host: h.address, agentPort: h.agentPort, mysqlPort: h.mysqlPort, healthPort: h.healthPort };
    try {
      await this.agents.ping(h);
    } catch (err) {
      throw new AppError('PEER_FAILED', `the agent of host ${h.address} (for ${id}) does not answer: ${messageOf(err)}`);
    }
    return node;
  }

  /** The hosts that hold a node, answering or not. */
  async listNodes(): Promise<CloudNode[]> {
    return this.hosts
      .hosts()
      .filter((h) => h.nodeId !== null)
      .map((h) => ({ id: h.nodeId!, host: h.address, agentPort: h.agentPort, mysqlPort: h.mysqlPort, healthPort: h.healthPort }));
  }

  /** Has the node's host wiped by its agent, then frees it; PEER_FAILED (the host stays the node's) when the agent does not answer. */
  async destroyNode(id: string): Promise<void> {
    checkNodeId(id);
    const h = this.hosts.hostOf(id);
    if (!h) return;
    try {
      await this.agents.wipe(h);
    } catch (err) {
      throw new AppError('PEER_FAILED', `cannot wipe host ${h.address} (${id}): ${messageOf(err)}; bring it back, or remove_host it`);
    }
    this.hosts.releaseHost(id);
  }

  /** The name a node's certificate carries (its host's address): what its peers are authorised by. */
  peerName(id: string): string {
    return this.hosts.hostOf(id)?.address ?? id;
  }

  /** Free hosts: how many more nodes can be created now. */
  capacity(): number {
    return this.free();
  }

  /** How many hosts are free. */
  free(): number {
    return this.hosts.hosts().filter((h) => h.nodeId === null).length;
  }
}
