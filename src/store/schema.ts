/** The manager's SQLite schema, as ordered migrations (PRAGMA user_version counts them). */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE service (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    error TEXT,
    cloud TEXT NOT NULL,
    user TEXT NOT NULL,
    password TEXT NOT NULL,
    repl_user TEXT NOT NULL,
    repl_password TEXT NOT NULL,
    desired_replicas INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('master', 'replica')),
    status TEXT NOT NULL CHECK (status IN ('creating', 'created', 'ready', 'removing')),
    server_id INTEGER NOT NULL UNIQUE,
    host TEXT,
    agent_port INTEGER,
    mysql_port INTEGER,
    created_at TEXT NOT NULL
  );
  CREATE TABLE operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    phase TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT CHECK (outcome IN ('done', 'failed')),
    error TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT
  );
  CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id INTEGER,
    step TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT,
    at TEXT NOT NULL
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    message TEXT NOT NULL
  );
  `,
  // Failover: nodes may be 'failed' (an old master) or 'rejoining'; nodes keep their health
  // port; the service keeps its automatic-failover switch and the anti-flapping block.
  `
  CREATE TABLE nodes_v2 (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('master', 'replica')),
    status TEXT NOT NULL CHECK (status IN ('creating', 'created', 'ready', 'removing', 'failed', 'rejoining')),
    server_id INTEGER NOT NULL UNIQUE,
    host TEXT,
    agent_port INTEGER,
    mysql_port INTEGER,
    health_port INTEGER,
    created_at TEXT NOT NULL
  );
  INSERT INTO nodes_v2 (id, role, status, server_id, host, agent_port, mysql_port, health_port, created_at)
    SELECT id, role, status, server_id, host, agent_port, mysql_port, CASE WHEN mysql_port IS NULL THEN NULL ELSE mysql_port + 1 END, created_at FROM nodes;
  DROP TABLE nodes;
  ALTER TABLE nodes_v2 RENAME TO nodes;
  ALTER TABLE service ADD COLUMN failover_enabled INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE service ADD COLUMN failover_blocked_until TEXT;
  `,
  // Typed operations: the reason an operation is undone gets a column of its own (it was kept
  // in the parameters); parameters never read (startup's slaves, add_nodes' count) go; add_nodes
  // says whether it replaces lost replicas; a new password waits in the service record.
  `
  ALTER TABLE operations ADD COLUMN abort_error TEXT;
  UPDATE operations SET abort_error = json_extract(params, '$.abortError') WHERE json_type(params, '$.abortError') = 'text';
  UPDATE operations SET params = json_remove(params, '$.abortError', '$.count', '$.slaves');
  UPDATE operations SET params = json_set(params, '$.replacement', json(CASE WHEN json_extract(params, '$.replacement') = 1 THEN 'true' ELSE 'false' END)) WHERE kind = 'add_nodes';
  ALTER TABLE service ADD COLUMN pending_password TEXT;
  `,
  // Every node watched: the most each replica was seen to receive (a replica that loses its relay
  // log is then not taken for the most advanced), repairs since it was healthy; the last master's
  // position and a total outage (no node behind that position is promoted on its own).
  `
  ALTER TABLE nodes ADD COLUMN received_gtid TEXT;
  ALTER TABLE nodes ADD COLUMN repairs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE service ADD COLUMN last_master_gtid TEXT;
  ALTER TABLE service ADD COLUMN outage_since TEXT;
  `,
  // Hosts that joined the manager (the static cloud), the one-time tokens they join with, and the
  // certificate serials of removed hosts (a deny list every agent and the manager check).
  `
  CREATE TABLE hosts (
    address TEXT PRIMARY KEY,
    agent_port INTEGER NOT NULL,
    mysql_port INTEGER NOT NULL,
    health_port INTEGER NOT NULL,
    cert_serial TEXT NOT NULL,
    node_id TEXT UNIQUE,
    agent_version TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    last_seen TEXT
  );
  CREATE TABLE join_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    address TEXT,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE denied_serials (
    serial TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    denied_at TEXT NOT NULL
  );
  `,
];
