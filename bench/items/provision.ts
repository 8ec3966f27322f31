import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ctx } from '../lib/context.js';
import { BenchAgent } from '../lib/agent.js';
import { lastLogLine, MiB } from '../lib/files.js';
import { rootConnect, rows, withRoot } from '../lib/mysql.js';
import { freePort } from '../lib/net.js';
import { WriteProbe } from '../lib/probe.js';
import { SecondDisk } from '../lib/second-disk.js';
import { now, runCmd, runShell, sleep } from '../lib/proc.js';
import { checkReplicating, waitCaughtUp } from '../lib/replication.js';
import type { BigService } from './big-service.js';
import { statSync } from 'node:fs';

export const ITEM = '1 provisioning';

const F = {
  cp: '(c) floor: `cp -a` of the stopped data directory',
  cpSync: '(c) floor, with `sync`',
  tcp: '(d) same bytes through loopback TCP: `tar | socat | tar`',
  tcpSync: '(d) with `sync`',
  tool: '(f) the tools alone: `mariadb-backup --backup --stream` piped into `mbstream -x`, then `--prepare` (no agent, no TLS, no network)',
  toolPrepare: '(f) of which `--prepare`',
  a: '(a) `add_nodes 1` → replica attached and caught up',
  aAgent: '(a) of which on the new agent: stream + restore + start + attach',
  aBytes: '(a) snapshot streamed',
  aCreate: '(a) · create the node: spawn its agent, until it answers',
  aAnswered: '(a) · the donor answers with its first bytes',
  aExtract: '(a) · the stream received and extracted (`mbstream -x`)',
  aPrepare: '(a) · `mariadb-backup --prepare`',
  aStart: '(a) · start `mariadbd` on it',
  aGap: '(a) longest gap between acknowledged writes',
  b: '(b) 2011 method: FTWRL, `mysqldump --all-databases --lock-all-tables`, load, `CHANGE MASTER TO`',
  bSpawn: '(b) of which: start a new agent',
  bInit: '(b) of which: new instance (`init_server`: `mariadb-install-db`, start)',
  bDump: '(b) of which: dump under the global read lock',
  bLoad: '(b) of which: load into the replica',
  bAttach: '(b) of which: `CHANGE MASTER TO` the recorded position, catch up',
  bBytes: '(b) dump file',
  bGap: '(b) longest gap between acknowledged writes',
  baseline: 'baseline: longest gap between acknowledged writes, 1 s with nothing else running',
  e: '(e) `add_nodes 1` with a caught-up replica (the donor) → attached and caught up',
  eGap: '(e) longest gap between acknowledged writes on the master',
  eBaseline: '(e) baseline: longest gap, 1 s before',
  g: '(g) the same with two caught-up replicas (one the donor) → attached and caught up',
  gGap: '(g) longest gap between acknowledged writes on the master',
  gBaseline: '(g) baseline: longest gap, 1 s before',
  h: '(h) as (e), the donor and the new node on a second disk (RAM-backed loop device) → attached and caught up',
  hGap: '(h) longest gap between acknowledged writes on the master',
  hBaseline: '(h) baseline: longest gap, 1 s before',
} as const;

/** One round of item 1: the floor (c, d), our add_nodes (a), the 2011 method (b). */
export async function provisionRound(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const r = ctx.results;
  if (round === 0) {
    r.note(
      'Provisioning (a) and (b) run while a client inserts one row every 10 ms into the master, as the service user over TCP (a master taking writes, as a live one does); ' +
        '"caught up" = the replica has applied the master\'s binary log position read once the replica is attached (MASTER_GTID_WAIT for (a), MASTER_POS_WAIT for (b)). ' +
        'The floor (c, d) copies the whole stopped data directory, redo log and system tablespace included, so it moves more bytes than the snapshot (which leaves the redo log out).',
    );
  }
  await floorCopy(ctx, big, round);
  await floorTcp(ctx, big, round);
  await floorTools(ctx, big, round);
  await addNodesOne(ctx, big, round);
  await fromReplica(ctx, big, round, 1);
  await fromReplica(ctx, big, round, 2);
  if (process.getuid?.() === 0) await fromReplica(ctx, big, round, 1, true);
  else if (round === 0) r.note('Provisioning (h) needs root (a loop device, bind mounts): not run.');
  await oldMethod(ctx, big, round);
  const fig = (name: string): ReturnType<typeof r.figure> => r.figure(ITEM, name, 's');
  r.ratio(ITEM, '(a) / (c): ours vs the floor', fig(F.a), fig(F.cp));
  r.ratio(ITEM, '(a) / (d): ours vs the same bytes through a socket', fig(F.a), fig(F.tcp));
  r.ratio(ITEM, '(a) / (f): ours vs the same tools piped on one machine', fig(F.a), fig(F.tool));
  r.ratio(ITEM, '(b) / (a): the 2011 method vs ours', fig(F.b), fig(F.a));
  const ms = (name: string): ReturnType<typeof r.figure> => r.figure(ITEM, name, 'ms', 0);
  r.ratio(ITEM, '(e) longest write gap / its baseline (one disk for every node)', ms(F.eGap), ms(F.eBaseline));
  r.ratio(ITEM, '(h) longest write gap / its baseline (the copy off the master\'s disk)', ms(F.hGap), ms(F.hBaseline));
}

/** The floor of a copy: `cp -a` of the stopped data directory (and with `sync`), recorded under `item` (names `F.cp`, `F.cpSync` unless given). */
export async function floorCopy(ctx: Ctx, big: BigService, round: number, item = ITEM, names: { plain: string; sync: string } = { plain: F.cp, sync: F.cpSync }): Promise<void> {
  const dst = join(ctx.root, 'floor-cp');
  await runCmd('sync', []);
  ctx.log(`  (c) cp -a of ${big.seed}`);
  const cp = await runCmd('cp', ['-a', big.seed, dst]);
  const s = await runCmd('sync', []);
  ctx.results.record(item, names.plain, 's', round, cp.ms / 1000);
  ctx.results.record(item, names.sync, 's', round, (cp.ms + s.ms) / 1000);
  await rm(dst, { recursive: true, force: true });
}

/** The socket floor: the same bytes through loopback TCP (`tar | socat | tar`), recorded under `item`. */
export async function floorTcp(ctx: Ctx, big: BigService, round: number, item = ITEM, names: { plain: string; sync: string } = { plain: F.tcp, sync: F.tcpSync }): Promise<void> {
  const dst = join(ctx.root, 'floor-tcp');
  await mkdir(dst, { recursive: true });
  const port = await freePort();
  await runCmd('sync', []);
  ctx.log('  (d) tar | socat | tar through 127.0.0.1');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script =
    `socat -u TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr STDOUT | tar -C ${q(dst)} -xf - & r=$!; ` +
    `tar -C ${q(big.seed)} -cf - . | socat -u STDIN TCP:127.0.0.1:${port},retry=200,interval=0.01 && wait $r`;
  const t = await runShell(script);
  const s = await runCmd('sync', []);
  ctx.results.record(item, names.plain, 's', round, t.ms / 1000);
  ctx.results.record(item, names.sync, 's', round, (t.ms + s.ms) / 1000);
  await rm(dst, { recursive: true, force: true });
}

/** What one measured `add_nodes 1` gave: its times (ms, `now()`), the new node, the probe's gaps, the events. */
interface AddOne {
  t0: number;
  t1: number;
  newId: string;
  gap: number;
  baseline: number;
  events: string[];
  /** ms from the manager's 'creating <node>' event to its 'provisioning <node>' (the agent spawned and answering), or NaN. */
  createMs: number;
}

/** The longest write gap (ms) of a quiet master: four times the probe's 10 ms between writes. */
const QUIET_MS = 40;

/**
 * `add_nodes 1` while the probe writes into the master every 10 ms (started at least 1 s before,
 * and until the master is quiet: WriteProbe.untilQuiet; the last second is the baseline): from
 * the call to the new replica attached and caught up.
 */
async function measureAddOne(ctx: Ctx, big: BigService, label: string): Promise<AddOne> {
  const { mgr } = big;
  const before = new Set((await mgr.info()).nodes.map((n) => n.id));
  await runCmd('sync', []);
  const probe = new WriteProbe(async () => big.endpoint, big.user, big.password);
  await probe.start();
  let t0 = 0;
  let t1 = 0;
  let newId = '';
  let events: string[] = [];
  let createMs = Number.NaN;
  let w0 = 0;
  try {
    // The previous step's tail (a removal's deletions, a replica catching up) must not be the
    // baseline, nor fall into the copy's window.
    const q = await probe.untilQuiet(QUIET_MS);
    if (!q.quiet) ctx.log(`    the master had a write gap over ${QUIET_MS} ms in every second for ${(q.waitedMs / 1000).toFixed(1)} s; measuring anyway`);
    ctx.log(`  ${label}`);
    t0 = now();
    w0 = Date.now();
    await mgr.client.call('add_nodes', { slaves: 1 });
    const { info } = await mgr.waitIdle('RUNNING');
    newId = info.nodes.find((n) => !before.has(n.id))?.id ?? '';
    if (newId === '') throw new Error('add_nodes finished without a new node');
    events = info.events.map((e) => e.message);
    const at = (re: RegExp): number => Date.parse(info.events.find((e) => re.test(e.message))?.at ?? '');
    createMs = at(new RegExp(`^add_nodes: provisioning ${newId}\\b`)) - at(new RegExp(`^add_nodes: creating ${newId}\\b`));
    await waitCaughtUp(big.masterFiles.socket, mgr.nodeFiles(newId).socket);
    t1 = now();
    await sleep(200);
  } finally {
    await probe.stop();
  }
  const baseline = probe.maxGap(t0 - 950, t0 - 50);
  logGaps(ctx, probe.gapsOver(t0, t1, 3 * Math.max(10, baseline)), t0, w0, newId === '' ? null : mgr.nodeFiles(newId).agentLog);
  return { t0, t1, newId, gap: probe.maxGap(t0, t1), baseline, events, createMs };
}

/**
 * Logs (does not record) the master's longest write gaps during an `add_nodes 1`, each with the
 * new node's stage it fell in: when a gap comes tells what caused it. Stages from the new
 * agent's 'provisioned from snapshot' line (its time and `ms`, and its stage durations in
 * order); times in seconds after the call.
 */
function logGaps(ctx: Ctx, gaps: Array<{ at: number; ms: number }>, t0: number, w0: number, agentLog: string | null): void {
  const line = agentLog ? lastLogLine(agentLog, 'provisioned from snapshot') : null;
  const st = (line?.['stages'] ?? {}) as Record<string, number>;
  const names = Object.keys(st);
  // Stage boundaries (wall ms), counted from the provisioning's start (the line's time less its
  // `ms`); what follows the last stage is the attach.
  const bounds: Array<{ name: string; from: number }> = [];
  let from = line ? line.time - Number(line['ms']) : Number.NaN;
  for (const n of names) {
    bounds.push({ name: n, from });
    from += st[n]!;
  }
  if (line) bounds.push({ name: 'attach', from });
  const stageAt = (wall: number): string => {
    if (!line) return '?';
    if (wall > line.time) return 'after (attach, catch-up)';
    const b = [...bounds].reverse().find((x) => wall >= x.from);
    return b ? b.name : 'before the copy (create the node, ask the donor)';
  };
  const shown = gaps.slice(0, 5).map((g) => `${g.ms.toFixed(0)} ms at +${((g.at - t0) / 1000).toFixed(2)} s (${stageAt(w0 + (g.at - t0))})`);
  const plan = bounds.map((b) => `${b.name} +${((b.from - w0) / 1000).toFixed(2)}`).join(', ');
  ctx.log(`    longest write gaps: ${shown.length > 0 ? shown.join('; ') : 'none over 3x the baseline'}${plan ? `; stages began: ${plan} s` : ''}`);
}

/**
 * (f) The copy our provisioning makes, with nothing of ours around it: `mariadb-backup` of the
 * running master (as root over its socket) piped straight into `mbstream -x`, then `--prepare`:
 * what the agents, the TLS stream, the manager's steps and the attach add is (a) − (f).
 */
async function floorTools(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const dst = join(ctx.root, 'floor-tools');
  await rm(dst, { recursive: true, force: true });
  await mkdir(dst, { recursive: true });
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cnf = join(big.masterFiles.dir, 'my.cnf');
  await runCmd('sync', []);
  ctx.log('  (f) mariadb-backup | mbstream -x, --prepare');
  const copy = await runShell(
    `mariadb-backup --defaults-file=${q(cnf)} --backup --stream=xbstream --parallel=2 --log-copy-interval=10 --user=root --socket=${q(big.masterFiles.socket)} 2>/dev/null | mbstream -x --parallel=2 -C ${q(dst)}`,
  );
  const prep = await runCmd('mariadb-backup', [`--defaults-file=${cnf}`, '--prepare', `--target-dir=${dst}`, '--use-memory=256M']);
  ctx.results.record(ITEM, F.tool, 's', round, (copy.ms + prep.ms) / 1000);
  ctx.results.record(ITEM, F.toolPrepare, 's', round, prep.ms / 1000);
  await rm(dst, { recursive: true, force: true });
}

async function addNodesOne(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const { mgr } = big;
  const m = await measureAddOne(ctx, big, '(a) add_nodes 1');
  const r = ctx.results;
  r.record(ITEM, F.a, 's', round, (m.t1 - m.t0) / 1000);
  r.record(ITEM, F.aGap, 'ms', round, m.gap, 0);
  if (Number.isFinite(m.createMs)) r.record(ITEM, F.aCreate, 's', round, m.createMs / 1000);
  r.record(ITEM, F.baseline, 'ms', round, m.baseline, 0);
  const line = lastLogLine(mgr.nodeFiles(m.newId).agentLog, 'provisioned from snapshot');
  if (line) {
    r.record(ITEM, F.aAgent, 's', round, Number(line['ms']) / 1000);
    r.record(ITEM, F.aBytes, 'MiB', round, Number(line['bytes']) / MiB, 0);
    const st = line['stages'] as { answered?: number; extract?: number; prepare?: number; start?: number } | undefined;
    if (st?.answered !== undefined) r.record(ITEM, F.aAnswered, 's', round, st.answered / 1000);
    if (st?.extract !== undefined) r.record(ITEM, F.aExtract, 's', round, st.extract / 1000);
    if (st?.prepare !== undefined) r.record(ITEM, F.aPrepare, 's', round, st.prepare / 1000);
    if (st?.start !== undefined) r.record(ITEM, F.aStart, 's', round, st.start / 1000);
  }
  ctx.log(`  (a) ${((m.t1 - m.t0) / 1000).toFixed(2)} s; removing ${m.newId}`);
  await mgr.client.call('remove_nodes', { serviceNodeId: m.newId });
  await mgr.waitIdle('RUNNING');
}

/**
 * (e) issue #17: with a caught-up replica in the service (added first, untimed), `add_nodes 1`
 * copies that replica, not the master: the time, and the master's longest write gap beside its
 * baseline. (g) the same with two replicas first: the master's commits then wait for either
 * replica's acknowledgement (semi-sync), not only for the donor's. (h) as (e), with the donor's
 * and the new node's directories on a second disk (SecondDisk): the master's disk then sees none
 * of the copy's reads and writes, as when they run on other machines — on one disk, the master's
 * `fdatasync` waits behind them (kernel stacks sampled during the gaps: the inode block write,
 * page writeback and the disk's cache flush). The replicas are removed after. Throws if the copy
 * did not come from a replica, or (h) if the nodes did not get the ids bound to the second disk.
 */
async function fromReplica(ctx: Ctx, big: BigService, round: number, replicas: 1 | 2, secondDisk = false): Promise<void> {
  const { mgr } = big;
  const [tag, names] = secondDisk
    ? ['(h)', { time: F.h, gap: F.hGap, baseline: F.hBaseline }]
    : replicas === 1
      ? ['(e)', { time: F.e, gap: F.eGap, baseline: F.eBaseline }]
      : ['(g)', { time: F.g, gap: F.gGap, baseline: F.gBaseline }];
  const before = new Set((await mgr.info()).nodes.map((n) => n.id));
  const disk = secondDisk ? await SecondDisk.create(ctx.root, 4) : null;
  try {
    const onDisk = mgr.nextIds(replicas + 1);
    if (disk) for (const id of onDisk) await disk.bindAt(mgr.nodeFiles(id).dir);
    ctx.log(`  ${tag} ${replicas} replica${replicas > 1 ? 's' : ''} first (untimed)`);
    await mgr.client.call('add_nodes', { slaves: replicas });
    await mgr.waitIdle('RUNNING');
    const added = (await mgr.info()).nodes.filter((n) => !before.has(n.id)).map((n) => n.id);
    for (const id of added) await waitCaughtUp(big.masterFiles.socket, mgr.nodeFiles(id).socket);
    // A donor must be a read endpoint (caught up, seen healthy by the monitor) to be chosen.
    const serving = async (): Promise<boolean> => (await mgr.info()).nodes.filter((n) => added.includes(n.id) && n.servesReads).length === added.length;
    for (let i = 0; i < 100 && !(await serving()); i++) await sleep(100);
    // The binds are let go before the nodes are removed (their directories must be removable).
    const m = await measureAddOne(ctx, big, `${tag} add_nodes 1, copied from a replica`).finally(() => disk?.release());
    if (disk && [...added, m.newId].join() !== onDisk.join()) throw new Error(`${tag} the nodes are ${[...added, m.newId].join(', ')}, not ${onDisk.join(', ')} put on the second disk`);
    const said = m.events.find((e) => e.includes(`provisioning ${m.newId} from a snapshot of`)) ?? '';
    if (!added.some((id) => said.includes(`of ${id} (a caught-up replica`))) throw new Error(`${tag} expected a copy of ${added.join(' or ')}: ${said}`);
    const r = ctx.results;
    r.record(ITEM, names.time, 's', round, (m.t1 - m.t0) / 1000);
    r.record(ITEM, names.gap, 'ms', round, m.gap, 0);
    r.record(ITEM, names.baseline, 'ms', round, m.baseline, 0);
    ctx.log(`  ${tag} ${((m.t1 - m.t0) / 1000).toFixed(2)} s; removing ${[...added, m.newId].join(', ')}`);
    await mgr.client.call('remove_nodes', { slaves: replicas + 1 });
    await mgr.waitIdle('RUNNING');
  } finally {
    await disk?.destroy();
  }
}

/**
 * The original ConPaaS way, scripted against mariadbd: a global read lock on the master, its
 * binary log position, a full logical dump while the lock holds, then the dump loaded into a
 * new server and replication started at the recorded position.
 */
async function oldMethod(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const dumpFile = join(ctx.root, 'dump.sql');
  await runCmd('sync', []);
  const probe = new WriteProbe(async () => big.endpoint, big.user, big.password);
  await probe.start();
  let agent: BenchAgent | null = null;
  const t: Record<'t0' | 'spawned' | 'init' | 'locked' | 'dumped' | 'loaded' | 't1', number> = { t0: 0, spawned: 0, init: 0, locked: 0, dumped: 0, loaded: 0, t1: 0 };
  try {
    await sleep(1000);
    ctx.log('  (b) FTWRL + mysqldump + load + CHANGE MASTER TO');
    t.t0 = now();
    agent = await BenchAgent.start(ctx, join(ctx.root, `old-${round}`));
    t.spawned = now();
    await agent.client.call('init_server', { serverId: 1000 + round });
    t.init = now();
    const lock = await rootConnect(big.masterFiles.socket);
    let file = '';
    let pos = 0;
    try {
      await lock.query('FLUSH TABLES WITH READ LOCK');
      const st = (await rows(lock, 'SHOW MASTER STATUS'))[0];
      if (!st) throw new Error('SHOW MASTER STATUS: the master writes no binary log');
      file = String(st['File']);
      pos = Number(st['Position']);
      t.locked = now();
      await runCmd('mariadb-dump', ['--no-defaults', `--socket=${big.masterFiles.socket}`, '--user=root', '--all-databases', '--lock-all-tables'], {
        stdoutFile: dumpFile,
      });
    } finally {
      await lock.query('UNLOCK TABLES').catch(() => undefined);
      lock.destroy();
    }
    t.dumped = now();
    // Under GTID strict mode a dump loaded with binary logging fails (MARIADB-NOTES trap 4).
    const sock = agent.files.socket.replace(/'/g, `'\\''`);
    await runShell(`{ echo 'SET SESSION sql_log_bin=0;'; cat '${dumpFile.replace(/'/g, `'\\''`)}'; } | mariadb --no-defaults --socket='${sock}' --user=root`);
    t.loaded = now();
    await withRoot(agent.files.socket, async (c) => {
      await c.query('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no', [
        big.endpoint.host,
        big.endpoint.port,
        big.repl.user,
        big.repl.password,
        file,
        pos,
      ]);
      await c.query('START SLAVE');
    });
    await waitPosition(big.masterFiles.socket, agent.files.socket);
    await checkReplicating(agent.files.socket);
    t.t1 = now();
    await sleep(200);
  } finally {
    await probe.stop();
    await agent?.destroy();
  }
  const r = ctx.results;
  r.record(ITEM, F.b, 's', round, (t.t1 - t.t0) / 1000);
  r.record(ITEM, F.bSpawn, 's', round, (t.spawned - t.t0) / 1000);
  r.record(ITEM, F.bInit, 's', round, (t.init - t.spawned) / 1000);
  r.record(ITEM, F.bDump, 's', round, (t.dumped - t.locked) / 1000);
  r.record(ITEM, F.bLoad, 's', round, (t.loaded - t.dumped) / 1000);
  r.record(ITEM, F.bAttach, 's', round, (t.t1 - t.loaded) / 1000);
  r.record(ITEM, F.bBytes, 'MiB', round, statSync(dumpFile).size / MiB, 0);
  r.record(ITEM, F.bGap, 'ms', round, probe.maxGap(t.t0, t.t1), 0);
  ctx.log(`  (b) ${((t.t1 - t.t0) / 1000).toFixed(2)} s`);
  await rm(dumpFile, { force: true });
}

/** Waits until the replica has executed the master's binary log up to its current position (file, offset). */
async function waitPosition(masterSocket: string, replicaSocket: string): Promise<void> {
  const st = await withRoot(masterSocket, (c) => rows(c, 'SHOW MASTER STATUS'));
  const file = String(st[0]?.['File'] ?? '');
  const pos = Number(st[0]?.['Position'] ?? 0);
  const res = await withRoot(replicaSocket, (c) => rows(c, 'SELECT MASTER_POS_WAIT(?, ?, 600) AS r', [file, pos]));
  const v = res[0]?.['r'];
  if (v === null || v === undefined || Number(v) < 0) throw new Error(`the replica did not reach ${file}:${pos}`);
}
