import type { CloudDriver, CloudNode } from '../../src/cloud/driver.js';
import { AppError, type ErrorCode } from '../../src/util/errors.js';

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A stateful in-memory cloud for unit tests of the manager: nodes live in a Map, get fake
 * ports, and can be made to vanish (their machine died) or to fail creation.
 */
export class FakeCloudDriver implements CloudDriver {
  readonly name = 'fake';
  /** Every call, in order, for tests that assert what the manager asked of the cloud. */
  readonly calls: { op: 'create' | 'destroy'; id: string }[] = [];
  private readonly nodes = new Map<string, CloudNode>();
  private nextPort: number;
  private failures: { message: string; code: ErrorCode }[] = [];
  private readonly held = new Map<string, Promise<void>>();

  constructor(private readonly options: { host?: string; firstPort?: number } = {}) {
    this.nextPort = options.firstPort ?? 20_000;
  }

  async createNode(id: string): Promise<CloudNode> {
    checkId(id);
    this.calls.push({ op: 'create', id });
    const failure = this.failures.shift();
    if (failure) throw new AppError(failure.code, failure.message);
    const hold = this.held.get(id);
    if (hold) {
      this.held.delete(id);
      await hold;
    }
    let node = this.nodes.get(id);
    if (!node) {
      node = { id, host: this.options.host ?? '127.0.0.1', agentPort: this.nextPort, mysqlPort: this.nextPort + 1, healthPort: this.nextPort + 2 };
      this.nextPort += 3;
      this.nodes.set(id, node);
    }
    return { ...node };
  }

  async listNodes(): Promise<CloudNode[]> {
    return [...this.nodes.values()].map((n) => ({ ...n })).sort((a, b) => a.id.localeCompare(b.id));
  }

  async destroyNode(id: string): Promise<void> {
    checkId(id);
    this.calls.push({ op: 'destroy', id });
    this.nodes.delete(id);
  }

  // ---- test controls ----

  /** The node disappears as if its machine died: no longer listed, no destroy call recorded. */
  vanish(id: string): void {
    if (!this.nodes.delete(id)) throw new Error(`FakeCloudDriver.vanish: no node ${id}`);
  }

  /** The next createNode fails with this message (calls queue: two calls fail the next two). */
  failNextCreate(message: string, code: ErrorCode = 'PEER_FAILED'): void {
    this.failures.push({ message, code });
  }

  /** The next createNode of `id` does not return until the returned function is called (a machine slow to start). */
  holdCreate(id: string): () => void {
    let release!: () => void;
    this.held.set(id, new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  /** The node with this id, if it is alive. */
  get(id: string): CloudNode | undefined {
    const n = this.nodes.get(id);
    return n ? { ...n } : undefined;
  }

  get size(): number {
    return this.nodes.size;
  }
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id) || /^\.+$/.test(id)) throw new AppError('INVALID_PARAMS', `invalid node id ${JSON.stringify(id)}`);
}
