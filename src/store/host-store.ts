import type Database from 'better-sqlite3';

/** A host that joined the manager (the static cloud): where its agent and `mariadbd` serve, and the node it holds. */
export interface HostRecord {
  /** The host's address (its certificate's name). */
  address: string;
  /** Its agent's API port. */
  agentPort: number;
  /** Its `mariadbd`'s port. */
  mysqlPort: number;
  /** Its health checks' port. */
  healthPort: number;
  /** Its certificate's serial number (hex, upper case), for the deny list when it is removed. */
  certSerial: string;
  /** The node it holds, or null while it is free. */
  nodeId: string | null;
  /** The agent's version when it joined. */
  agentVersion: string;
  /** When it joined (ISO time). */
  joinedAt: string;
  /** When its agent last answered (ISO time), or null. */
  lastSeen: string | null;
}

/** A one-time join token as stored: its secret only as a hash. */
export interface JoinTokenRecord {
  /** The public part of the token (`ID` of `ID.SECRET`). */
  id: string;
  /** SHA-256 of the secret, hex. */
  secretHash: string;
  /** The address it is bound to, or null for any. */
  address: string | null;
  /** When it stops being valid (ISO time). */
  expiresAt: string;
  /** When it was used (ISO time), or null. */
  usedAt: string | null;
}

/**
 * The static cloud's records (store/schema.ts, migration 5), in the manager's SQLite file next to
 * the service's: joined hosts, join tokens, the deny list of removed hosts' certificates.
 */
export class HostStore {
  constructor(private readonly db: Database.Database) {}

  /** Every joined host, by address. */
  hosts(): HostRecord[] {
    return (this.db.prepare('SELECT * FROM hosts ORDER BY address').all() as Row[]).map(hostOf);
  }

  /** One host, or null. */
  host(address: string): HostRecord | null {
    const r = this.db.prepare('SELECT * FROM hosts WHERE address = ?').get(address) as Row | undefined;
    return r ? hostOf(r) : null;
  }

  /** The host holding a node, or null. */
  hostOf(nodeId: string): HostRecord | null {
    const r = this.db.prepare('SELECT * FROM hosts WHERE node_id = ?').get(nodeId) as Row | undefined;
    return r ? hostOf(r) : null;
  }

  /** Records a host that joined; throws when the address is taken. */
  insertHost(h: HostRecord): void {
    this.db
      .prepare('INSERT INTO hosts (address, agent_port, mysql_port, health_port, cert_serial, node_id, agent_version, joined_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(h.address, h.agentPort, h.mysqlPort, h.healthPort, h.certSerial, h.nodeId, h.agentVersion, h.joinedAt, h.lastSeen);
  }

  /** Takes a free host for a node (the first by address), or null when none is free; a node that holds one already gets it back. */
  claimHost(nodeId: string): HostRecord | null {
    return this.db.transaction(() => {
      const own = this.hostOf(nodeId);
      if (own) return own;
      const free = this.db.prepare('SELECT address FROM hosts WHERE node_id IS NULL ORDER BY address LIMIT 1').get() as Row | undefined;
      if (!free) return null;
      this.db.prepare('UPDATE hosts SET node_id = ? WHERE address = ?').run(nodeId, free['address']);
      return this.host(String(free['address']));
    })();
  }

  /** Gives a node's host back to the pool (nothing when no host holds it). */
  releaseHost(nodeId: string): void {
    this.db.prepare('UPDATE hosts SET node_id = NULL WHERE node_id = ?').run(nodeId);
  }

  /** Records that a host's agent answered now. */
  sawHost(address: string, at: string): void {
    this.db.prepare('UPDATE hosts SET last_seen = ? WHERE address = ?').run(at, address);
  }

  /** Removes a host and puts its certificate on the deny list, in one transaction. */
  removeHost(address: string, at: string): void {
    this.db.transaction(() => {
      const h = this.host(address);
      if (!h) return;
      this.db.prepare('INSERT OR IGNORE INTO denied_serials (serial, address, denied_at) VALUES (?, ?, ?)').run(h.certSerial, address, at);
      this.db.prepare('DELETE FROM hosts WHERE address = ?').run(address);
    })();
  }

  /** The serials of removed hosts' certificates (hex, upper case). */
  deniedSerials(): string[] {
    return (this.db.prepare('SELECT serial FROM denied_serials ORDER BY serial').all() as Row[]).map((r) => String(r['serial']));
  }

  /** Records a new join token. */
  addToken(t: JoinTokenRecord, createdAt: string): void {
    this.db.prepare('INSERT INTO join_tokens (id, secret_hash, address, expires_at, used_at, created_at) VALUES (?, ?, ?, ?, NULL, ?)').run(t.id, t.secretHash, t.address, t.expiresAt, createdAt);
  }

  /** A join token by id, or null. */
  token(id: string): JoinTokenRecord | null {
    const r = this.db.prepare('SELECT * FROM join_tokens WHERE id = ?').get(id) as Row | undefined;
    if (!r) return null;
    return { id: String(r['id']), secretHash: String(r['secret_hash']), address: (r['address'] as string | null) ?? null, expiresAt: String(r['expires_at']), usedAt: (r['used_at'] as string | null) ?? null };
  }

  /** Marks a token used, unless it was already: true when this call used it (single use, even under races). */
  useToken(id: string, at: string): boolean {
    return this.db.prepare('UPDATE join_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL').run(at, id).changes === 1;
  }

  /** Runs `fn` in one transaction. */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

type Row = Record<string, unknown>;

function hostOf(r: Row): HostRecord {
  return {
    address: String(r['address']),
    agentPort: Number(r['agent_port']),
    mysqlPort: Number(r['mysql_port']),
    healthPort: Number(r['health_port']),
    certSerial: String(r['cert_serial']),
    nodeId: (r['node_id'] as string | null) ?? null,
    agentVersion: String(r['agent_version']),
    joinedAt: String(r['joined_at']),
    lastSeen: (r['last_seen'] as string | null) ?? null,
  };
}
