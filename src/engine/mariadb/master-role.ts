import type { Connection } from 'mysql2/promise';
import { q } from './sql.js';

/** `user@host` as information_schema gives a definer, split at the last `@` (a host has none). */
function splitDefiner(definer: string): { user: string; host: string } {
  const at = definer.lastIndexOf('@');
  return at < 0 ? { user: definer, host: '%' } : { user: definer.slice(0, at), host: definer.slice(at + 1) };
}

/** An identifier in backticks, a backtick in it doubled. */
function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * Takes on the server state that belongs to the master role: its events run. Events this server
 * got by replication are `SLAVESIDE_DISABLED` (MariaDB marks them so on a replica,
 * sql/event_parse_data.cc); they are enabled here, each keeping its definer, without writing to
 * the binary log (so the replicas keep theirs disabled), then the event scheduler is switched on.
 * Returns the events it enabled (`db.name`). Throws ENGINE_FAILED (sql.ts) when a statement fails.
 */
export async function takeMasterRole(c: Connection): Promise<string[]> {
  const events = await q(c, 'list the events disabled on a replica', "SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name, DEFINER AS definer FROM information_schema.EVENTS WHERE STATUS = 'SLAVESIDE_DISABLED'");
  const enabled: string[] = [];
  if (events.length > 0) {
    await q(c, 'leave the binary log', 'SET SESSION sql_log_bin = 0');
    try {
      for (const e of events) {
        const { user, host } = splitDefiner(String(e['definer']));
        // ALTER EVENT makes its caller the definer unless one is named (MariaDB's manual, ALTER EVENT).
        await q(c, 'enable an event', `ALTER DEFINER = ?@? EVENT ${ident(String(e['db']))}.${ident(String(e['name']))} ENABLE`, [user, host]);
        enabled.push(`${String(e['db'])}.${String(e['name'])}`);
      }
    } finally {
      await q(c, 'return to the binary log', 'SET SESSION sql_log_bin = 1');
    }
  }
  await q(c, 'start the event scheduler', 'SET GLOBAL event_scheduler = ON');
  return enabled;
}

/** Gives up the master role's server state: the event scheduler stops (a replica never runs events; OFF, never DISABLED, so a promotion can start it). */
export async function leaveMasterRole(c: Connection): Promise<void> {
  await q(c, 'stop the event scheduler', 'SET GLOBAL event_scheduler = OFF');
}
