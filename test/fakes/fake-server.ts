import { compareGtidPositions, formatGtidPosition, laterOf, type Gtid, type GtidPosition } from '../../src/protocol/gtid.js';

/**
 * One fake `mariadbd`: what a server holds that replication and failover depend on, as plain
 * state (after moco's clustering/mock_test.go): its binary log as a list of GTIDs, the position
 * its replication applied (`gtid_slave_pos`), read_only, and, on a replica, the relay log, the
 * IO and SQL threads and their errors. It models MariaDB's rules that matter here: GTID strict
 * mode (an out-of-order GTID stops the SQL thread, error 1950), a replica asking for a position
 * its master never had (error 1236), relay logs applied in order, log_slave_updates.
 */

export type ServerState = 'running' | 'stopped' | 'crashed';

export interface FakeReplication {
  /** The node id of the master it follows. */
  masterId: string;
  masterHost: string;
  masterPort: number;
  user: string;
  ioRunning: 'Yes' | 'No' | 'Connecting';
  sqlRunning: 'Yes' | 'No';
  lastIoError: string;
  lastIoErrno: number;
  lastSqlError: string;
  lastSqlErrno: number;
  /** Received from the master, not applied yet. */
  relay: Gtid[];
  /** The last GTID received per domain (`Gtid_IO_Pos`). */
  ioPos: GtidPosition;
  /** Rounds the IO thread has seen its master silent (a frozen master). */
  silentTicks: number;
}

/** One transaction's id, as text. */
export const gtidText = (g: Gtid): string => `${g.domain}-${g.server}-${g.seq}`;

/** The last GTID per domain of a list of GTIDs. */
export function positionOf(gtids: readonly Gtid[]): GtidPosition {
  const last = new Map<number, Gtid>();
  for (const g of gtids) last.set(g.domain, g);
  return [...last.values()].sort((a, b) => a.domain - b.domain);
}

export class FakeServer {
  state: ServerState = 'running';
  readOnly = true;
  binlog: Gtid[] = [];
  slavePos: GtidPosition = [];
  replication: FakeReplication | null = null;
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  frozen = false;
  /** The SQL thread applies nothing (a lagging replica). */
  lagging = false;
  /** The lag its replication reports, whatever it is (null: computed from the relay log). */
  reportedLag: number | null = null;
  /** The next transaction the SQL thread applies fails with this error. */
  failNextApply: { errno: number; message: string } | null = null;
  /** Passwords of the accounts the agent set (the service user, replication). */
  readonly passwords = new Map<string, string>();

  constructor(public serverId: number) {}

  /** `gtid_binlog_pos`. */
  get binlogPos(): GtidPosition {
    return positionOf(this.binlog);
  }

  /** `gtid_current_pos`: per domain, the later of what the server wrote and what it applied. */
  get currentPos(): GtidPosition {
    return laterOf(this.binlogPos, this.slavePos);
  }

  /** True when every GTID of this server's binary log is in `other`'s (no errant transaction towards it). */
  containsHistoryOf(other: FakeServer): boolean {
    return other.binlog.every((g) => this.binlog.some((x) => x.domain === g.domain && x.server === g.server && x.seq === g.seq));
  }

  /** A transaction written on this server (it must be running and writable, or `force` a local write as root). */
  write(force = false): Gtid | null {
    if (this.state !== 'running' || this.frozen) return null;
    if (this.readOnly && !force) return null;
    const last = this.currentPos.find((g) => g.domain === 0)?.seq ?? 0;
    const g = { domain: 0, server: this.serverId, seq: last + 1 };
    this.binlog.push(g);
    return g;
  }

  /** The SQL thread applies what it can of the relay log. */
  applyRelay(): void {
    const r = this.replication;
    if (!r || r.sqlRunning !== 'Yes' || this.lagging || this.state !== 'running' || this.frozen) return;
    while (r.relay.length > 0) {
      const g = r.relay[0]!;
      if (this.failNextApply) {
        r.sqlRunning = 'No';
        r.lastSqlError = `Could not execute Write_rows_v1 event on table app.t; ${this.failNextApply.message}, Error_code: ${this.failNextApply.errno}`;
        r.lastSqlErrno = this.failNextApply.errno;
        this.failNextApply = null;
        return;
      }
      const mine = this.binlogPos.find((x) => x.domain === g.domain);
      if (mine && mine.seq >= g.seq && !(mine.server === g.server && mine.seq === g.seq)) {
        // gtid_strict_mode: the server already wrote a later (or the same) sequence number of this domain.
        if (this.slavePos.some((x) => x.domain === g.domain && x.seq >= g.seq)) {
          r.relay.shift(); // applied before (a relay log read twice): skipped, as MariaDB does
          continue;
        }
        r.sqlRunning = 'No';
        r.lastSqlError = `An attempt was made to binlog GTID ${gtidText(g)} which would create an out-of-order sequence number with existing GTID ${gtidText(mine)}, and gtid strict mode is enabled`;
        r.lastSqlErrno = 1950;
        return;
      }
      r.relay.shift();
      this.binlog.push(g);
      this.slavePos = laterOf(this.slavePos.filter((x) => x.domain !== g.domain), [g]);
    }
  }

  /** How this server's position stands to another's (for the test's own checks). */
  compare(other: GtidPosition): ReturnType<typeof compareGtidPositions> {
    return compareGtidPositions(this.currentPos, other);
  }

  /** The positions as the agent reports them. */
  positions(): { binlogPos: string; slavePos: string; currentPos: string } {
    return { binlogPos: formatGtidPosition(this.binlogPos), slavePos: formatGtidPosition(this.slavePos), currentPos: formatGtidPosition(this.currentPos) };
  }
}
