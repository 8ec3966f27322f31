/**
 * The cloud driver: how the manager gets machines for its nodes (the seed's IaaS client). One
 * interface here, implemented by each driver (local/, …); one contract suite
 * (test/contract/cloud-driver.contract.ts) that every implementation runs.
 */

import { AppError } from '../util/errors.js';

/** A node id every driver accepts: 1 to 64 letters, digits, `_`, `.` or `-`, not only dots (it may name a directory). */
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws INVALID_PARAMS naming the id when it is not one every driver accepts (NODE_ID). */
export function checkNodeId(id: string): void {
  if (!NODE_ID.test(id) || /^\.+$/.test(id)) {
    throw new AppError('INVALID_PARAMS', `invalid node id ${JSON.stringify(id.slice(0, 80))}: use 1 to 64 letters, digits, _ . or -`);
  }
}

/** A node as a cloud sees it: a machine running an agent. */
export interface CloudNode {
  /** The node's id. */
  id: string;
  /** Address of the node: its agent API and its mariadbd listen there. */
  host: string;
  /** Its agent's API port. */
  agentPort: number;
  /** Its mariadbd's port. */
  mysqlPort: number;
  /** Plain-HTTP health checks for load balancers (`/primary`, `/replica`, `/health`). */
  healthPort: number;
}

/** A node's TLS identity, issued by the manager's CA: PEM texts. */
export interface NodeCredentials {
  /** The service CA's certificate. */
  ca: string;
  /** The node's certificate (CN = its id). */
  cert: string;
  /** The node's private key. */
  key: string;
}

/** Where nodes come from: one implementation per cloud. */
export interface CloudDriver {
  /** The driver's name, as `--cloud` and the API's `cloud` parameter give it. */
  readonly name: string;
  /** The address nodes of this cloud get, when known before creation (for their certificates). */
  readonly nodeHost?: string;
  /**
   * Creates a node running an agent, and resolves once the agent answers. Idempotent by id:
   * creating an id that already exists and is alive returns that node. With credentials, the
   * agent serves its API over mutual TLS with them. Throws INVALID_PARAMS for a bad id,
   * PEER_FAILED or TIMEOUT when the agent does not come up.
   */
  createNode(id: string, credentials?: NodeCredentials): Promise<CloudNode>;
  /** The nodes alive now (the seed's `IaaSClient.listVMs()`). */
  listNodes(): Promise<CloudNode[]>;
  /** Destroys a node and everything on it. Idempotent: an unknown id is not an error. Throws TIMEOUT when its processes outlive a kill. */
  destroyNode(id: string): Promise<void>;
  /** The name a node's certificate carries, which its peers authorise (default: its id). */
  peerName?(id: string): string;
  /** How many more nodes it can create now (a static cloud's free hosts); absent: as many as asked. */
  capacity?(): number;
}
