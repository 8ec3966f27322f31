/**
 * What the manager needs from the outside world (STYLE.md: inject dependencies). Each port
 * has one contract test suite that every implementation runs.
 */

/** A node as a cloud sees it: a machine running an agent. */
export interface CloudNode {
  id: string;
  /** Address of the node: its agent API and its mariadbd listen there. */
  host: string;
  agentPort: number;
  mysqlPort: number;
  /** Plain-HTTP health checks for load balancers (`/primary`, `/replica`, `/health`). */
  healthPort: number;
}

/** A node's TLS identity, issued by the manager's CA: PEM texts. */
export interface NodeCredentials {
  ca: string;
  cert: string;
  key: string;
}

export interface CloudDriver {
  readonly name: string;
  /** The address nodes of this cloud get, when known before creation (for their certificates). */
  readonly nodeHost?: string;
  /**
   * Creates a node running an agent, and resolves once the agent answers. Idempotent by id:
   * creating an id that already exists and is alive returns that node. With credentials, the
   * agent serves its API over mutual TLS with them.
   */
  createNode(id: string, credentials?: NodeCredentials): Promise<CloudNode>;
  /** The nodes alive now (the seed's `IaaSClient.listVMs()`). */
  listNodes(): Promise<CloudNode[]>;
  /** Destroys a node and everything on it. Idempotent: an unknown id is not an error. */
  destroyNode(id: string): Promise<void>;
}
