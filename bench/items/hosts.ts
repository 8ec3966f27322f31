import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { ManagerProcess } from '../../test/helpers/manager-process.js';
import { NetnsHosts } from '../../test/helpers/netns.js';
import { RouterProcess } from '../../test/helpers/router-process.js';
import type { Ctx } from '../lib/context.js';
import { IdWriter } from '../lib/id-writer.js';
import { tcpConnect } from '../lib/mysql.js';
import { now, sleep } from '../lib/proc.js';

export const ITEM = '8 hosts';

const TABLE = 'benchhosts.t';

const F = {
  off: '(a) ours: the master\'s host powered off (link down, every process killed) → first write acknowledged through the router',
  offFailed: '(a) writes refused or failed meanwhile',
  offMissing: '(a) acknowledged writes not on the new master',
  cut: '(b) ours: the master isolated from everyone (iptables in its namespace) → first write acknowledged through the router',
  cutFailed: '(b) writes refused or failed meanwhile',
  cutMissing: '(b) acknowledged writes not on the new master',
  floorOff: '(c) floor of (a): power off → every replica says it lost the master (IO thread not running; slave_net_timeout 2 s, heartbeat 0.5 s), its agent polled every 20 ms',
  floorCut: '(c) floor of (b): isolation → every replica says it lost the master',
} as const;

/** The static cloud of item 8: hosts in network namespaces, a manager (TLS) they joined, a service on 3 of them, a router. */
export interface HostsService {
  net: NetnsHosts;
  m: ManagerProcess;
  router: RouterProcess;
  password: string;
  user: string;
  dirs: Map<number, string>;
  agents: ChildProcess[];
  acked: number[];
}

/** Starts `cps-mysql agent join` in host `i` (a new token, or resuming from its directory). */
async function join1(ctx: Ctx, s: Pick<HostsService, 'net' | 'm' | 'dirs' | 'agents'>, i: number): Promise<void> {
  const h = s.net.hosts[i]!;
  const t = await s.m.client.call('create_join_token', { address: h.address });
  let dir = s.dirs.get(i);
  if (!dir) {
    dir = mkdtempSync(join(ctx.root, `host-${i}-`));
    chmodSync(dir, 0o711);
    s.dirs.set(i, dir);
  }
  const args = [ctx.cli, 'agent', 'join', '--manager', `https://${s.net.gateway}:${s.m.port}`, '--ca-hash', t.caHash, '--dir', dir, '--host', h.address];
  s.agents.push(s.net.spawnIn(i, process.execPath, args, { stdio: 'ignore', env: { ...process.env, CPS_MYSQL_JOIN_TOKEN: t.token } }));
}

/** Three hosts joined, a master and 2 replicas on them, the router, the writers' table. */
export async function setUpHostsService(ctx: Ctx): Promise<HostsService> {
  const net = NetnsHosts.create(3);
  const part = { net, m: null as unknown as ManagerProcess, dirs: new Map<number, string>(), agents: [] as ChildProcess[] };
  try {
    part.m = await ManagerProcess.start({ args: ['--tls', '--cloud', 'static', '--host', net.gateway, '--failover-block-seconds', '0'] });
    for (let i = 0; i < 3; i++) await join1(ctx, part, i);
    const deadline = Date.now() + 60_000;
    while ((await part.m.client.call('list_hosts', {})).hosts.length < 3) {
      if (Date.now() > deadline) throw new Error('the hosts did not join within 60 s');
      await sleep(100);
    }
    await part.m.client.call('startup', { slaves: 2 });
    const info = await part.m.waitFor('RUNNING', 180_000);
    const password = await part.m.client.call('get_password', {});
    const master = info.nodes.find((n) => n.isMaster)!;
    await IdWriter.prepare({ host: master.ip, port: master.port }, info.user, password, TABLE);
    const router = await RouterProcess.start(part.m);
    return { ...part, router, password, user: info.user, acked: [] };
  } catch (err) {
    await part.m?.cleanup();
    await net.killAll();
    net.cleanup();
    throw err;
  }
}

/** Stops the router, the manager and every process in the namespaces; removes the namespaces. */
export async function tearDownHosts(s: HostsService): Promise<void> {
  await s.router.stop();
  await s.m.cleanup();
  await s.net.killAll();
  s.net.cleanup();
}

/** Waits until the service is a master and 2 ready replicas that replicate, idle. */
async function waitWhole(m: ManagerProcess, timeoutMs = 180_000): Promise<ServiceInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await m.info();
    const ready = info.nodes.filter((n) => n.status === 'ready');
    const replicating = ready.filter((n) => !n.isMaster).every((n) => n.replication?.ioRunning === 'Yes' && n.replication.sqlRunning === 'Yes');
    if (info.state === 'RUNNING' && info.operation === null && ready.length === 3 && ready.filter((n) => n.isMaster).length === 1 && replicating) return info;
    if (Date.now() > deadline) throw new Error(`the service is not back to 3 ready nodes after ${timeoutMs} ms: ${info.state}, ${info.diagnosis ?? ''}`);
    await sleep(100);
  }
}

/** How many of `ids` the node at `at` holds, as the service user. */
async function held(at: { ip: string; port: number }, user: string, password: string, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const c = await tcpConnect(at.ip, at.port, user, password);
  try {
    let n = 0;
    for (let k = 0; k < ids.length; k += 5000) {
      const [rows] = await c.query(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE id IN (?)`, [ids.slice(k, k + 5000)]);
      n += Number((rows as { n: number }[])[0]!.n);
    }
    return n;
  } finally {
    c.destroy();
  }
}

/**
 * One round of item 8: the master's host powered off, then (once the service is whole again) the
 * master isolated from everyone; each time a client writes through the router's write port, and
 * the replicas' agents are polled for when they lost the master (the floor).
 */
export async function hostsRound(ctx: Ctx, s: HostsService, round: number): Promise<void> {
  for (const fault of ['off', 'cut'] as const) {
    const info = await waitWhole(s.m);
    const master = info.nodes.find((n) => n.isMaster)!;
    const victim = s.net.hosts.findIndex((h) => h.address === master.ip);
    const replicas = info.nodes.filter((n) => !n.isMaster);
    const base = (round + 1) * 1_000_000 + (fault === 'cut' ? 500_000 : 0);
    const writer = new IdWriter(() => Promise.resolve({ host: '127.0.0.1', port: s.router.writePort }), s.user, s.password, TABLE, base);
    let tFault = 0;
    let firstAck: number | null = null;
    let lost = Number.NaN;
    try {
      writer.start();
      await writer.waitSteady(1000);
      ctx.log(`  ${fault === 'off' ? 'powering off' : 'isolating'} ${master.id}'s host ${master.ip} under writes through the router`);
      tFault = now();
      if (fault === 'off') s.net.powerOff(victim);
      else s.net.cut(victim, [s.net.gateway, ...s.net.hosts.filter((_, k) => k !== victim).map((h) => h.address)]);
      // The floor: when every replica says it lost the master.
      const floor = (async () => {
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const io = await Promise.all(replicas.map((n) => s.m.agent(n, 500).call('get_status', {}).then((st) => st.replication?.ioRunning ?? 'No', () => 'unknown')));
          if (io.every((x) => x !== 'Yes' && x !== 'unknown')) return now();
          await sleep(20);
        }
        return Number.NaN;
      })();
      const deadline = Date.now() + 120_000;
      for (;;) {
        const err = writer.firstErrorAfter(tFault);
        firstAck = err === null ? null : writer.firstAckAfter(err);
        if (firstAck !== null) break;
        if (Date.now() > deadline) throw new Error(`no write acknowledged within 120 s of the fault: ${writer.errorTimes.length} failed`);
        await sleep(10);
      }
      lost = await floor;
      await sleep(500);
    } finally {
      await writer.stop();
    }
    s.acked.push(...writer.acked);
    const after = await s.m.info();
    const now1 = after.nodes.find((n) => n.isMaster && n.status === 'ready');
    if (!now1 || now1.id === master.id) throw new Error(`no new master after the ${fault}`);
    const missing = writer.acked.length - (await held(now1, s.user, s.password, writer.acked));
    const missingEver = s.acked.length - (await held(now1, s.user, s.password, s.acked));
    const r = ctx.results;
    if (missingEver > 0) r.error(`item 8 run ${round + 1} (${fault}): ${missingEver} of ${s.acked.length} acknowledged writes are not on the new master ${now1.id}`);
    ctx.log(`  ${fault}: ${master.id} → ${now1.id}: first write acknowledged ${(firstAck - tFault).toFixed(0)} ms after; replicas lost it after ${(lost - tFault).toFixed(0)} ms; ${missing} missing`);
    r.record(ITEM, fault === 'off' ? F.off : F.cut, 'ms', round, firstAck - tFault, 0);
    r.record(ITEM, fault === 'off' ? F.offFailed : F.cutFailed, 'writes', round, writer.errorsBetween(tFault, firstAck), 0);
    r.record(ITEM, fault === 'off' ? F.offMissing : F.cutMissing, 'writes', round, missing, 0);
    r.record(ITEM, fault === 'off' ? F.floorOff : F.floorCut, 'ms', round, lost - tFault, 0);
    // Back: the link up and the agent resumed (powered off), or the rules removed (isolated).
    if (fault === 'off') {
      s.net.link(victim, true);
      await join1(ctx, s, victim);
    } else {
      s.net.heal(victim);
    }
  }
  const r = ctx.results;
  r.ratio(ITEM, '(a) / (c): powered off, ours vs the replicas noticing', r.figure(ITEM, F.off, 'ms', 0), r.figure(ITEM, F.floorOff, 'ms', 0));
  r.ratio(ITEM, '(b) / (c): isolated, ours vs the replicas noticing', r.figure(ITEM, F.cut, 'ms', 0), r.figure(ITEM, F.floorCut, 'ms', 0));
}
