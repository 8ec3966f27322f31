import { join } from 'node:path';
import type { ServiceEvent } from '../../src/protocol/manager-api.js';
import type { Ctx } from '../lib/context.js';
import { firstLogLine, lastLogLine, mtimeMs } from '../lib/files.js';
import { BenchManager, masterOf } from '../lib/manager.js';
import { now, runCmd } from '../lib/proc.js';

export const ITEM = '3 cold start';

const TOTAL = '`startup` then `add_nodes 2` → RUNNING with 3 nodes, empty data directory';

/**
 * The steps of a cold start, each the time between two marks. Marks come from the manager's
 * events (their timestamps), the nodes' files (the `initialized` marker written after
 * `mariadb-install-db` or after a restored snapshot is prepared; `xtrabackup_info`, the last
 * file of the snapshot stream) and the agents' logs (the first 'agent listening' and 'server running', 'provisioned from
 * snapshot'). Consecutive steps add up to the total.
 */
const STEPS = [
  'startup accepted → first step (register)',
  'create node-1: spawn its agent, until it listens',
  'init datadir: `mariadb-install-db` (from its agent listening)',
  'start `mariadbd` (master)',
  'configure master: replication user, writable, service user',
  'startup done → client sees RUNNING',
  '`add_nodes 2` accepted → agents spawned',
  'snapshot: `mariadb-backup --stream` → `mbstream -x` (2 at once)',
  'restore: `mariadb-backup --prepare`',
  'attach: start `mariadbd`, `CHANGE MASTER TO`',
  'add_nodes done → client sees RUNNING',
] as const;

function eventAt(events: ServiceEvent[], re: RegExp): number {
  const e = events.find((x) => re.test(x.message));
  return e ? Date.parse(e.at) : Number.NaN;
}

function maxOf(xs: Array<number | null>): number {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === xs.length && v.length > 0 ? Math.max(...v) : Number.NaN;
}

/**
 * One round of item 3, on a new manager with an empty data directory. The manager of the
 * last round is returned, still running (3 nodes), for the items that follow; the others are
 * destroyed.
 */
export async function coldStartRound(ctx: Ctx, round: number, keep: boolean): Promise<BenchManager> {
  const mgr = await BenchManager.create(ctx, `cold${round}`);
  try {
    await runCmd('sync', []);
    ctx.log('  startup, then add_nodes 2');
    const w0 = Date.now();
    const t0 = now();
    await mgr.client.call('startup', { slaves: 0 });
    const first = await mgr.waitIdle('RUNNING');
    const w1 = Date.now();
    await mgr.client.call('add_nodes', { slaves: 2 });
    const second = await mgr.waitIdle('RUNNING');
    const w2 = Date.now();
    const t2 = second.at;
    const r = ctx.results;
    r.record(ITEM, TOTAL, 's', round, (t2 - t0) / 1000);
    r.record(ITEM, 'of which `startup` (1 node)', 's', round, (first.at - t0) / 1000);
    r.record(ITEM, 'of which `add_nodes 2`', 's', round, (t2 - first.at) / 1000);
    if (second.info.nodes.length !== 3) throw new Error(`expected 3 nodes, found ${second.info.nodes.length}`);

    const ev = second.info.events;
    const master = masterOf(second.info);
    const replicas = second.info.nodes.filter((n) => n.role === 'replica').map((n) => mgr.nodeFiles(n.id));
    const mf = mgr.nodeFiles(master.id);
    // Marks in wall-clock milliseconds; STEPS[i] is the time from bounds[i] to bounds[i + 1].
    const bounds = [
      w0,
      eventAt(ev, /registering/),
      // Not the start_master step: at startup the node's server is made as soon as its agent
      // answers, inside create_nodes.
      firstLogLine(mf.agentLog, 'agent listening')?.time ?? Number.NaN,
      mtimeMs(mf.marker) ?? Number.NaN,
      // The first: later steps call init_server again and find it running.
      firstLogLine(mf.agentLog, 'server running')?.time ?? Number.NaN,
      eventAt(ev, /^startup complete/),
      w1,
      eventAt(ev, /^add_nodes: provisioning/),
      maxOf(replicas.map((f) => mtimeMs(join(f.data, 'xtrabackup_info')))),
      maxOf(replicas.map((f) => mtimeMs(f.marker))),
      maxOf(replicas.map((f) => lastLogLine(f.agentLog, 'provisioned from snapshot')?.time ?? null)),
      w2,
    ];
    for (let i = 0; i < STEPS.length; i++) {
      const d = bounds[i + 1]! - bounds[i]!;
      r.record(ITEM, `· ${STEPS[i]}`, 's', round, Number.isFinite(d) ? d / 1000 : Number.NaN);
    }
  } catch (err) {
    await mgr.destroy();
    throw err;
  }
  if (!keep) await mgr.destroy();
  await startupWithReplicas(ctx, round);
  return mgr;
}

/**
 * Marks of a new host's `startup --slaves 2`, each from the call (they overlap: the template is
 * made while the agents start): from the manager's log ('data-directory template made') and the
 * agents' logs (the last of the three first 'agent listening' and first 'server running').
 */
const NEW_HOST_MARKS = [
  'new host: call → the template whole (made since the manager started)',
  'new host: call → the three agents listening',
  'new host: call → the three servers running',
  "new host: the three servers running → client sees RUNNING (the manager's steps)",
] as const;

/** `startup {slaves: 2}` on a new manager: its replicas start empty and replicate the master from its first transaction (issue #17), no snapshot. */
async function startupWithReplicas(ctx: Ctx, round: number): Promise<void> {
  const mgr = await BenchManager.create(ctx, `cold-direct${round}`);
  /** `startup --slaves 2` from the call to RUNNING with 3 nodes, recorded as `figure`; returns the call's and RUNNING's wall-clock ms. */
  const timedStartup = async (label: string, figure: string): Promise<{ w0: number; w1: number; ids: string[] }> => {
    await runCmd('sync', []);
    ctx.log(`  ${label}`);
    const w0 = Date.now();
    const t0 = now();
    await mgr.client.call('startup', { slaves: 2 });
    const done = await mgr.waitIdle('RUNNING');
    if (done.info.nodes.length !== 3) throw new Error(`expected 3 nodes, found ${done.info.nodes.length}`);
    ctx.results.record(ITEM, figure, 's', round, (done.at - t0) / 1000);
    return { w0, w1: w0 + (done.at - t0), ids: done.info.nodes.map((n) => n.id) };
  };
  try {
    const first = await timedStartup('startup --slaves 2', '`startup --slaves 2` → RUNNING with 3 nodes (replicas replicate from the first transaction, no snapshot)');
    const logs = first.ids.map((id) => mgr.nodeFiles(id).agentLog);
    const listening = maxOf(logs.map((l) => firstLogLine(l, 'agent listening')?.time ?? null));
    const running = maxOf(logs.map((l) => firstLogLine(l, 'server running')?.time ?? null));
    const template = firstLogLine(join(mgr.dataDir, 'manager.log'), 'data-directory template made')?.time ?? Number.NaN;
    const marks = [template - first.w0, listening - first.w0, running - first.w0, first.w1 - running];
    for (let i = 0; i < NEW_HOST_MARKS.length; i++) ctx.results.record(ITEM, `· ${NEW_HOST_MARKS[i]}`, 's', round, Number.isFinite(marks[i]!) ? marks[i]! / 1000 : Number.NaN);
    // The same again once the host has its data-directory template (made during the first
    // startup): what every later service of a host pays.
    await mgr.client.call('shutdown', {});
    await mgr.waitIdle('STOPPED');
    await timedStartup('startup --slaves 2 again, the host having its data-directory template', '`startup --slaves 2` again after `shutdown` (the host has its data-directory template)');
  } finally {
    await mgr.destroy();
  }
}
