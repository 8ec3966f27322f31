import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareGtid } from '../../src/protocol/gtid.js';
import type { ServiceInfo, ServiceNodeInfo } from '../../src/protocol/manager-api.js';
import type { Ctx } from '../lib/context.js';
import { BenchRouter } from '../lib/router.js';
import { IdWriter, missingIds } from '../lib/id-writer.js';
import { BenchManager, masterOf } from '../lib/manager.js';
import { rootConnect, rows, scalar, type Connection } from '../lib/mysql.js';
import type { Endpoint } from '../lib/probe.js';
import { isAlive, now, runCmd, sleep, spawnTracked } from '../lib/proc.js';

export const ITEM = '7 failover';

const TABLE = 'benchfail.t';

const F = {
  ours: '(a) ours: master killed (agent and `mariadbd`, SIGKILL) → first write acknowledged through the router',
  decided: '(a) kill → the manager decides to fail over (its event)',
  promoted: '(a) kill → failover done (the "promoted …" event)',
  shown: '(a) kill → `get_service_info` names the new master',
  failed: '(a) writes refused or failed meanwhile',
  acked: '(a) writes acknowledged (this run, before and after the kill)',
  missing: '(a) of which not on the new master',
  floor: '(b) floor: master killed → promotion by SQL at once, client straight to the new master → first write acknowledged',
  floorSql: '(b) of which: drain, choose and promote by SQL',
  floorDrain: '(b) of which: both replicas stop receiving and apply what they received',
  floorAcked: '(b) writes acknowledged (before and after the kill)',
  floorMissing: '(b) of which not on the new master',
  frozen: '(c) ours: master frozen (SIGSTOP of its `mariadbd`, agent alive) → first write acknowledged through the router',
  frozenFailed: '(c) writes refused or failed meanwhile',
  frozenMissing: '(c) acknowledged writes not on the new master',
  broken: '(d) ours: one replica broken (SQL error 1062), then the master killed → first write acknowledged through the router',
  brokenFailed: '(d) writes refused or failed meanwhile',
  brokenMissing: '(d) acknowledged writes not on the new master',
} as const;

/** The trouble of one measurement: the master killed, the master frozen, or a replica broken first and then the master killed. */
type Trouble = 'killed' | 'frozen' | 'broken';

/** The service of item 7 (a): its manager, the service user, and every id acknowledged so far. */
export interface FailoverService {
  mgr: BenchManager;
  user: string;
  password: string;
  acked: number[];
}

/** The pids of a node's agent (`node.json`) and of its `mariadbd` (`run/mysqld.pid`). */
function pidsOf(mgr: BenchManager, id: string): number[] {
  const agent = mgr.agentPid(id);
  const mysqld = Number(readFileSync(join(mgr.nodeFiles(id).dir, 'run', 'mysqld.pid'), 'utf8').trim());
  if (agent === null || !Number.isInteger(mysqld) || mysqld <= 1) throw new Error(`no pids for ${id}`);
  return [agent, mysqld];
}

/** SIGKILLs the pids; resolves with the monotonic time at which all were seen dead. */
async function killAll(pids: number[]): Promise<number> {
  for (const p of pids) process.kill(p, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) throw new Error(`still alive 10 s after SIGKILL: ${pids.filter(isAlive).join(', ')}`);
    await sleep(1);
  }
  return now();
}

/**
 * The manager with `--failover-block-seconds 1` (so that every round may fail over again) and
 * its defaults otherwise (monitoring every 1000 ms, 2 failed checks): `BenchManager` starts a
 * manager with its defaults; it is started again here, on the same directory and port, with
 * the extra option.
 */
async function relaunchWith(ctx: Ctx, mgr: BenchManager, extra: string[]): Promise<void> {
  await mgr.stop();
  const out = openSync(`${mgr.dataDir}.out`, 'a');
  try {
    const args = [ctx.cli, 'manager', '--port', String(mgr.port), '--data-dir', mgr.dataDir, ...extra];
    mgr.child = spawnTracked('manager', process.execPath, args, { stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const child = mgr.child;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the manager exited with ${child.exitCode}: ${mgr.outputTail()}`);
    try {
      await mgr.client.call('get_service_info', {}, { timeoutMs: 1000 });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`the manager did not answer: ${mgr.outputTail()}`);
      await sleep(50);
    }
  }
}

/** A manager with a master and 2 replicas, and the writers' table. */
export async function setUpFailoverService(ctx: Ctx): Promise<FailoverService> {
  const mgr = await BenchManager.create(ctx, 'failover');
  try {
    await relaunchWith(ctx, mgr, ['--failover-block-seconds', '1']);
    const info = await mgr.startService(2);
    const password = await mgr.client.call('get_password', {});
    const m = masterOf(info);
    await IdWriter.prepare({ host: m.ip, port: m.port }, info.user, password, TABLE);
    return { mgr, user: info.user, password, acked: [] };
  } catch (err) {
    await mgr.destroy();
    throw err;
  }
}

/** Waits until the service is back to a master and 2 ready replicas, idle, with failover allowed. */
async function waitWhole(mgr: BenchManager, timeoutMs = 180_000): Promise<ServiceInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await mgr.info();
    const ready = info.nodes.filter((n) => n.status === 'ready');
    const whole = ready.length === 3 && ready.filter((n) => n.role === 'master').length === 1;
    const replicating = ready.filter((n) => n.role === 'replica').every((n) => n.replication?.ioRunning === 'Yes' && n.replication.sqlRunning === 'Yes');
    if (info.state === 'RUNNING' && info.operation === null && whole && replicating && info.failover.enabled && info.failover.blockedUntil === null) return info;
    if (Date.now() > deadline) throw new Error(`the service is not back to 3 ready nodes after ${timeoutMs} ms: ${info.state}, ${info.diagnosis ?? ''}`);
    await sleep(100);
  }
}

/** One round of item 7: the SQL-only floor on a new service of its own, then ours: killed, frozen, one replica broken. */
export async function failoverRound(ctx: Ctx, svc: FailoverService, round: number): Promise<void> {
  await floorRound(ctx, round);
  await oursRound(ctx, svc, round, 'killed');
  await oursRound(ctx, svc, round, 'frozen');
  await oursRound(ctx, svc, round, 'broken');
}

/**
 * Breaks a replica the way case 2 of issue #12 does: a row inserted on it behind replication's
 * back (`sql_log_bin=0`) with an id the writer is about to insert on the master; its SQL thread
 * stops on the duplicate key (1062) when that insert arrives. Resolves once it stopped.
 */
async function breakReplica(mgr: BenchManager, id: string, writer: IdWriter): Promise<void> {
  const c = await rootConnect(mgr.nodeFiles(id).socket);
  try {
    const next = Math.max(...writer.acked, 0) + 200;
    await c.query('SET SESSION sql_log_bin = 0');
    await c.query('SET GLOBAL read_only = 0');
    await c.query(`INSERT INTO ${TABLE} (id, at) VALUES (?, 0)`, [next]);
    await c.query('SET GLOBAL read_only = 1');
    const deadline = Date.now() + 30_000;
    while (String((await rows(c, 'SHOW SLAVE STATUS'))[0]?.['Last_SQL_Errno'] ?? '0') !== '1062') {
      if (Date.now() > deadline) throw new Error(`${id} did not stop on the duplicate key`);
      await sleep(20);
    }
  } finally {
    c.destroy();
  }
}

/**
 * (a), (c), (d): the master's agent and `mariadbd` killed (or its `mariadbd` frozen, or a
 * replica broken first) while a client inserts through the router's write port; the manager
 * detects, fails over, and the router's HAProxy finds the new master through `/primary`.
 */
async function oursRound(ctx: Ctx, svc: FailoverService, round: number, trouble: Trouble): Promise<void> {
  const { mgr } = svc;
  const info = await waitWhole(mgr);
  const master = masterOf(info);
  const hap = await BenchRouter.start(mgr, join(ctx.root, `router-${round}-${trouble}`));
  const base = (round + 1) * 1_000_000 + { killed: 0, frozen: 300_000, broken: 600_000 }[trouble];
  const writer = new IdWriter(() => Promise.resolve({ host: '127.0.0.1', port: hap.writePort }), svc.user, svc.password, TABLE, base);
  let tKill = 0;
  let tDead = 0;
  let wallKill = 0;
  let shownAt = Number.NaN;
  let firstAck: number | null = null;
  const pids = pidsOf(mgr, master.id);
  try {
    writer.start();
    await writer.waitSteady(1000);
    await runCmd('sync', []);
    await writer.waitSteady(500);
    if (trouble === 'broken') {
      const victim = info.nodes.find((n) => n.role === 'replica' && n.status === 'ready')!;
      await breakReplica(mgr, victim.id, writer);
      ctx.log(`  ${victim.id} stopped on a duplicate key (1062)`);
    }
    ctx.log(`  ${trouble === 'frozen' ? 'freezing' : 'killing'} ${master.id} (${trouble === 'frozen' ? `mariadbd ${pids[1]}, SIGSTOP` : `agent and mariadbd: ${pids.join(', ')}`}) under writes through the router`);
    wallKill = Date.now();
    tKill = now();
    if (trouble === 'frozen') {
      process.kill(pids[1]!, 'SIGSTOP');
      tDead = now();
    } else {
      tDead = await killAll(pids);
    }
    // When does a client asking the manager learn of the new master?
    const watch = (async () => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        try {
          const i = await mgr.client.call('get_service_info', {}, { timeoutMs: 2000 });
          if (i.master !== null && i.master !== info.master) return now();
        } catch {
          // the manager is busy: ask again
        }
        await sleep(25);
      }
      return Number.NaN;
    })();
    const deadline = Date.now() + 120_000;
    for (;;) {
      // An ack is the new master's once the old connection has failed.
      const err = writer.firstErrorAfter(tKill);
      firstAck = err === null ? null : writer.firstAckAfter(Math.max(tDead, err));
      if (firstAck !== null) break;
      if (Date.now() > deadline) throw new Error(`no write acknowledged within 120 s of the kill: ${writer.errorTimes.length} failed`);
      await sleep(10);
    }
    shownAt = await watch;
    await sleep(1000);
  } finally {
    await writer.stop();
    await hap.stop();
  }
  svc.acked.push(...writer.acked);
  if (trouble === 'frozen') {
    // The fence killed it; if not, it wakes up fenced and is never written to again.
    try {
      process.kill(pids[1]!, 'SIGCONT');
    } catch {
      // gone
    }
  }

  // The manager's own account: the decision, then the end of the failover, in its events.
  const wallDead = wallKill + (tDead - tKill);
  const eventAfter = (i: ServiceInfo, re: RegExp): number => {
    const e = i.events.find((x) => re.test(x.message) && Date.parse(x.at) >= wallKill);
    return e ? Date.parse(e.at) - wallDead : Number.NaN;
  };
  const evDeadline = Date.now() + 60_000;
  let after = await mgr.info();
  while (!Number.isFinite(eventAfter(after, /^promoted /)) && Date.now() < evDeadline) {
    await sleep(100);
    after = await mgr.info();
  }
  const newMaster = after.nodes.find((n) => n.role === 'master' && n.status === 'ready');
  if (!newMaster || newMaster.id === master.id) throw new Error(`no new master after the failover: ${after.diagnosis ?? ''}`);
  const missingNow = await missingIds(mgr.nodeFiles(newMaster.id).socket, TABLE, writer.acked);
  const missingEver = await missingIds(mgr.nodeFiles(newMaster.id).socket, TABLE, svc.acked);

  const r = ctx.results;
  if (missingEver.length > 0) {
    r.error(`item 7 run ${round + 1} (${trouble}): ${missingEver.length} of ${svc.acked.length} acknowledged writes are not on the new master ${newMaster.id} (ids ${missingEver.slice(0, 10).join(', ')}${missingEver.length > 10 ? ', …' : ''})`);
  }
  ctx.log(`  ${trouble}: ${master.id} → ${newMaster.id}: first write acknowledged ${(firstAck - tDead).toFixed(0)} ms after; ${missingNow.length} of ${writer.acked.length} acknowledged writes missing`);
  if (trouble !== 'killed') {
    const [rto, failed, missing] = trouble === 'frozen' ? [F.frozen, F.frozenFailed, F.frozenMissing] : [F.broken, F.brokenFailed, F.brokenMissing];
    r.record(ITEM, rto, 'ms', round, firstAck - tDead, 0);
    r.record(ITEM, failed, 'writes', round, writer.errorsBetween(tKill, firstAck), 0);
    r.record(ITEM, missing, 'writes', round, missingNow.length, 0);
    return;
  }
  r.record(ITEM, F.ours, 'ms', round, firstAck - tDead, 0);
  r.record(ITEM, F.decided, 'ms', round, eventAfter(after, /: failing over$/), 0);
  r.record(ITEM, F.promoted, 'ms', round, eventAfter(after, /^promoted /), 0);
  r.record(ITEM, F.shown, 'ms', round, shownAt - tDead, 0);
  r.record(ITEM, F.failed, 'writes', round, writer.errorsBetween(tKill, firstAck), 0);
  r.record(ITEM, F.acked, 'writes', round, writer.acked.length, 0);
  r.record(ITEM, F.missing, 'writes', round, missingNow.length, 0);
  r.ratio(ITEM, '(a) / (b): ours vs the SQL-only floor', r.figure(ITEM, F.ours, 'ms', 0), r.figure(ITEM, F.floor, 'ms'));
}

/** What the floor needs of a replica: its node, and an OS-root connection to it opened beforehand. */
interface Replica {
  node: ServiceNodeInfo;
  c: Connection;
}

/**
 * (b) The floor: the same replication setup (a service the manager started, then told not to
 * fail over), the same kill, and the promotion done by SQL at once, with no detection: on each
 * replica stop receiving and apply what was received, promote the most advanced (`STOP SLAVE;
 * RESET SLAVE ALL; SET GLOBAL read_only=0`), re-point the other (`CHANGE MASTER TO …
 * MASTER_USE_GTID=slave_pos`). The client connects straight to the new master as soon as it is
 * writable.
 */
async function floorRound(ctx: Ctx, round: number): Promise<void> {
  const mgr = await BenchManager.create(ctx, `floor${round}`);
  const replicas: Replica[] = [];
  try {
    ctx.log('  floor: a new service (master and 2 replicas), automatic failover off');
    const info = await mgr.startService(2);
    await mgr.client.call('set_failover', { enabled: false });
    const password = await mgr.client.call('get_password', {});
    const master = masterOf(info);
    for (const node of info.nodes.filter((n) => n.role === 'replica' && n.status === 'ready')) {
      replicas.push({ node, c: await rootConnect(mgr.nodeFiles(node.id).socket) });
    }
    if (replicas.length !== 2) throw new Error(`expected 2 replicas, found ${replicas.length}`);
    await IdWriter.prepare({ host: master.ip, port: master.port }, info.user, password, TABLE);

    let target: Promise<Endpoint> = Promise.resolve({ host: master.ip, port: master.port });
    let promote: (e: Endpoint) => void = () => undefined;
    const writer = new IdWriter(() => target, info.user, password, TABLE, (round + 1) * 1_000_000);
    let tKill = 0;
    let tDead = 0;
    let tDrained = 0;
    let tPromoted = 0;
    let best: Replica | undefined;
    let firstAck: number | null = null;
    try {
      writer.start();
      await writer.waitSteady(1000);
      await runCmd('sync', []);
      await writer.waitSteady(500);
      // From the kill on, the client waits for the promotion to know where to connect.
      target = new Promise((r) => (promote = r));
      const pids = pidsOf(mgr, master.id);
      ctx.log(`  floor: killing ${master.id} (agent and mariadbd), promoting by SQL`);
      tKill = now();
      tDead = await killAll(pids);
      const steps: string[] = [];
      const applied = await Promise.all(
        replicas.map(async ({ c }, i) => {
          await c.query('STOP SLAVE IO_THREAD');
          const stopped = now();
          const received = String((await rows(c, 'SHOW SLAVE STATUS'))[0]?.['Gtid_IO_Pos'] ?? '');
          if (received !== '' && Number(await scalar(c, 'SELECT MASTER_GTID_WAIT(?, 30)', [received])) !== 0) throw new Error(`a replica did not apply ${received}`);
          steps[i] = `${replicas[i]!.node.id}: STOP SLAVE IO_THREAD ${(stopped - tDead).toFixed(1)} ms, applied by ${(now() - tDead).toFixed(1)} ms`;
          return String(await scalar(c, 'SELECT @@gtid_slave_pos'));
        }),
      );
      tDrained = now();
      const order = [0, 1].sort((a, b) => compareGtid(applied[b]!, applied[a]!) || a - b);
      best = replicas[order[0]!]!;
      const other = replicas[order[1]!]!;
      await best.c.query('STOP SLAVE');
      await best.c.query('RESET SLAVE ALL');
      await best.c.query('SET GLOBAL read_only = 0');
      tPromoted = now();
      promote({ host: best.node.ip, port: best.node.port });
      await other.c.query('STOP SLAVE');
      await other.c.query('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USE_GTID = slave_pos', [best.node.ip, best.node.port]);
      await other.c.query('START SLAVE');
      ctx.log(`  floor: ${steps.join('; ')}; promoted at ${(tPromoted - tDead).toFixed(1)} ms; other replica re-pointed at ${(now() - tDead).toFixed(1)} ms`);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const err = writer.firstErrorAfter(tKill);
        firstAck = err === null ? null : writer.firstAckAfter(Math.max(tDead, err));
        if (firstAck !== null) break;
        if (Date.now() > deadline) throw new Error('floor: no write acknowledged within 60 s of the promotion');
        await sleep(5);
      }
      await sleep(500);
    } finally {
      promote({ host: master.ip, port: master.port });
      await writer.stop();
    }
    const missing = await missingIds(mgr.nodeFiles(best.node.id).socket, TABLE, writer.acked);
    const r = ctx.results;
    r.record(ITEM, F.floor, 'ms', round, firstAck - tDead);
    r.record(ITEM, F.floorSql, 'ms', round, tPromoted - tDead);
    r.record(ITEM, F.floorDrain, 'ms', round, tDrained - tDead);
    r.record(ITEM, F.floorAcked, 'writes', round, writer.acked.length, 0);
    r.record(ITEM, F.floorMissing, 'writes', round, missing.length, 0);
    ctx.log(`  floor: ${master.id} → ${best.node.id}: first write acknowledged ${(firstAck - tDead).toFixed(1)} ms after the kill; ${missing.length} of ${writer.acked.length} acknowledged writes missing`);
    if (missing.length > 0) r.error(`item 7 run ${round + 1}, floor: ${missing.length} acknowledged writes are not on the promoted replica`);
  } finally {
    for (const { c } of replicas) c.destroy();
    await mgr.destroy();
  }
}
