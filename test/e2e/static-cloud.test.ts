import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { templateKey } from '../../src/engine/mariadb/datadir-template.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentApi } from '../../src/protocol/agent-api.js';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { RpcClient } from '../../src/rpc/client.js';
import { isAlive } from '../../src/util/proc.js';
import { Writer } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { NetnsHosts, NsClient } from '../helpers/netns.js';
import { RouterProcess } from '../helpers/router-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

const CLI = resolve('dist/cli/main.js');

/**
 * Nodes on many machines (issue #14): hosts are network namespaces on a bridge the test made;
 * each joins the manager with a one-time token (`cps-mysql agent join`); the manager runs the
 * static cloud over TLS in the root namespace. Then the service survives a host powered off and
 * partitions, as the issue lists them.
 */
describe('the static cloud: hosts that joined, across network namespaces', () => {
  let net: NetnsHosts;
  let m: ManagerProcess;
  const agents: ChildProcess[] = [];
  const dirs: string[] = [];
  const hostDirs = new Map<number, string>();
  /** Each host's latest `agent join` output (its log), by host index. */
  const outputs = new Map<number, () => string>();
  const writers: NsClient[] = [];
  const routers: RouterProcess[] = [];
  let password = '';

  /** Starts `agent join` on host `i` with a fresh token (bound to its address). */
  async function joinHostAt(i: number, extra: { token?: string; caHash?: string; resume?: boolean } = {}): Promise<{ child: ChildProcess; output: () => string }> {
    const h = net.hosts[i]!;
    const t = await m.client.call('create_join_token', { address: h.address });
    let dir = hostDirs.get(i);
    if (!dir || !extra.resume) {
      dir = mkdtempSync(join(tmpdir(), `cps-host-${i}-`));
      chmodSync(dir, 0o711);
      dirs.push(dir);
      hostDirs.set(i, dir);
    }
    // The token as the printed command gives it (in the environment), or on the command line.
    expect(t.command).toBe(`CPS_MYSQL_JOIN_TOKEN=${t.token} cps-mysql agent join --manager https://${net.gateway}:${m.port} --ca-hash ${t.caHash} --dir /var/lib/cps-mysql --host ${h.address}`);
    const token = extra.resume || !extra.token ? [] : ['--token', extra.token];
    const env = { ...process.env, ...(extra.resume || extra.token ? {} : { CPS_MYSQL_JOIN_TOKEN: t.token }) };
    const child = net.spawnIn(i, process.execPath, [CLI, 'agent', 'join', '--manager', `https://${net.gateway}:${m.port}`, ...token, '--ca-hash', extra.caHash ?? t.caHash, '--dir', dir, '--host', h.address], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    agents.push(child);
    outputs.set(i, () => out);
    return { child, output: () => out };
  }

  const master = async (): Promise<ServiceInfo['nodes'][number]> => (await m.info()).nodes.find((n) => n.isMaster && n.status === 'ready')!;
  const indexOf = (address: string): number => net.hosts.findIndex((h) => h.address === address);

  beforeAll(async () => {
    net = NetnsHosts.create(5);
    m = await ManagerProcess.start({ args: ['--tls', '--cloud', 'static', '--host', net.gateway, '--failover-block-seconds', '0'] });
  }, 60_000);

  afterAll(async () => {
    for (const w of writers) await w.stop();
    for (const r of routers) await r.stop();
    await m?.cleanup();
    for (const a of agents) if (a.pid && isAlive(a.pid)) a.kill('SIGKILL');
    // Every process started in a namespace (agents, their mariadbd), by its PID; then the namespaces.
    await net?.killAll();
    net?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('four hosts join with one-time tokens; a reused token, a wrong CA pin and a second join are refused, nothing registered', async () => {
    for (let i = 0; i < 4; i++) await joinHostAt(i);
    const hosts = await eventually(() => m.client.call('list_hosts', {}), (r) => r.hosts.length === 4 && r.hosts.every((h) => h.state === 'free'), 30_000);
    expect(hosts.hosts.map((h) => h.address).sort()).toEqual(net.hosts.slice(0, 4).map((h) => h.address).sort());
    // A token is good once.
    const t = await m.client.call('create_join_token', {});
    const first = await joinHostAt(4, { token: t.token });
    await eventually(() => m.client.call('list_hosts', {}), (r) => r.hosts.length === 5, 30_000);
    first.child.kill('SIGTERM');
    await eventually(async () => first.child.exitCode !== null || first.child.signalCode !== null, (x) => x, 10_000);
    // With its certificate, host 5 may not call host 1's agent (only the manager may); once it is
    // removed, its certificate is not even let in (the deny list every agent got).
    const tls = hostDirs.get(4)!;
    const asHost5 = new RpcClient(agentApi, { url: `https://${net.hosts[0]!.address}:9300/`, timeoutMs: 5000, tls: { ca: readFileSync(join(tls, 'tls', 'ca.crt'), 'utf8'), cert: readFileSync(join(tls, 'tls', 'agent.crt'), 'utf8'), key: readFileSync(join(tls, 'tls', 'agent.key'), 'utf8') } });
    await expect(asHost5.call('check_agent_process', {})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await m.client.call('remove_host', { address: net.hosts[4]!.address });
    await expect(asHost5.call('check_agent_process', {})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const again = await joinHostAt(4, { token: t.token });
    await eventually(async () => again.child.exitCode, (c) => c !== null, 30_000);
    expect(again.output()).toMatch(/cps-mysql agent join: join: this join token was used already/);
    // A manager whose CA does not match the pin gets no token.
    const wrongPin = await joinHostAt(4, { caHash: `sha256:${'0'.repeat(64)}` });
    await eventually(async () => wrongPin.child.exitCode, (c) => c !== null, 30_000);
    expect(wrongPin.output()).toMatch(/is not the one whose CA is sha256:0{64}: refusing to send it the token/);
    expect((await m.client.call('list_hosts', {})).hosts).toHaveLength(4);
  });

  it('startup puts the master and 2 replicas on 3 different hosts; writes reach the replicas in their namespaces; add_nodes takes the 4th, one more is refused', async () => {
    await m.client.call('startup', { slaves: 2 });
    const info = await m.waitFor('RUNNING', 180_000);
    const addresses = info.nodes.map((n) => n.ip);
    expect(new Set(addresses).size).toBe(3);
    for (const a of addresses) expect(indexOf(a)).toBeGreaterThanOrEqual(0);
    // Each host made its data-directory template when it joined; its server is a copy of it.
    for (const a of addresses) {
      expect(existsSync(join(hostDirs.get(indexOf(a))!, 'datadir-templates', templateKey(), 'ready')), a).toBe(true);
      expect(outputs.get(indexOf(a))!(), a).toContain('"datadir":"copied"');
    }
    password = await m.client.call('get_password', {});
    const mst = await master();
    const c = await connectApp(mst.ip, mst.port, 'mysqldb', password);
    await c.query('CREATE DATABASE hosts');
    await c.query('CREATE TABLE hosts.t (id INT PRIMARY KEY)');
    await c.query('INSERT INTO hosts.t VALUES (1), (2), (3)');
    await c.end();
    for (const n of info.nodes.filter((x) => !x.isMaster)) {
      const rc = await connectApp(n.ip, n.port, 'mysqldb', password);
      expect(Number(await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM hosts.t').catch(() => 0), (v) => Number(v) === 3)), n.id).toBe(3);
      await rc.end();
    }
    await m.client.call('add_nodes', { slaves: 1 });
    const four = await m.waitFor('RUNNING', 180_000);
    expect(new Set(four.nodes.map((n) => n.ip)).size).toBe(4);
    // The new host took its copy over the data channel, across namespaces, each end's certificate named by its host's address.
    const fourth = four.nodes.find((n) => !addresses.includes(n.ip))!;
    expect(outputs.get(indexOf(fourth.ip))!()).toMatch(/"over":"channel"[^\n]*"provisioned from snapshot"/);
    await expect(m.client.call('add_nodes', { slaves: 1 })).rejects.toThrow(/add_nodes: 1 more node asked for, 0 hosts free; join more hosts first/);
    expect((await m.client.call('list_hosts', {})).hosts.every((h) => h.state.startsWith('node-'))).toBe(true);
    const mst2 = await master();
    expect((await m.agent(mst2).call('get_status', {})).waitNoSlave).toBe(true);
  });

  it('a host powered off (its processes killed, its link down): failover; a client writing through the router goes on; no acknowledged write lost', async () => {
    const router = await RouterProcess.start(m);
    routers.push(router);
    const writer = new Writer(router.writePort, password, 'hosts.t');
    const before = await master();
    const victim = indexOf(before.ip);
    try {
      await writer.waitForAcks(20);
      // Power off: every process in the host's namespace dies, and the network loses it.
      net.powerOff(victim);
      const cutAt = Date.now();
      await writer.waitForAcks(20, 60_000);
      process.stdout.write(`host powered off → first write through the router: ${writer.firstAckAfterFailure(cutAt)! - cutAt} ms\n`);
    } finally {
      await writer.stop();
    }
    const now = await master();
    expect(now.ip).not.toBe(before.ip);
    const c = await connectApp(now.ip, now.port, 'mysqldb', password);
    expect(Number(await scalar(c, 'SELECT COUNT(*) FROM hosts.t WHERE id IN (?)', [writer.acked]))).toBe(writer.acked.length);
    await c.end();
    const events = (await m.info()).events.map((e) => e.message);
    expect(events.some((e) => e.includes('failing over'))).toBe(true);
    // The host is listed unreachable, its node kept (a failure to diagnose, not a deleted machine).
    const listed = (await m.client.call('list_hosts', {})).hosts.find((h) => h.address === before.ip)!;
    expect(listed.state).toBe('unreachable');
    expect((await m.info()).nodes.some((n) => n.ip === before.ip)).toBe(true);
    // Powered on again: its agent resumes with the certificate it has (no token); the former
    // master comes back as a replica of the new one (rejoined, or replaced by a fresh copy).
    net.link(victim, true);
    await joinHostAt(victim, { resume: true });
    const whole = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.nodes.length === 4 && i.nodes.every((n) => n.status === 'ready'), 120_000);
    expect(whole.nodes.map((n) => n.status)).toEqual(['ready', 'ready', 'ready', 'ready']);
    expect(whole.nodes.filter((n) => n.isMaster).map((n) => n.ip)).toEqual([now.ip]);
  });

  /** Every host address that holds a node now. */
  const nodeHosts = async (): Promise<number[]> => (await m.info()).nodes.map((n) => indexOf(n.ip));
  /** The events since a time (epoch ms): the list keeps only the latest ones, so it is not counted. */
  const eventsSince = async (t: number): Promise<string[]> => (await m.info()).events.filter((e) => Date.parse(e.at) >= t).map((e) => e.message);

  it('the manager cut from the master while the replicas still see it: no failover, the refusal is an event', async () => {
    const before = await master();
    const mark = Date.now();
    const i = indexOf(before.ip);
    net.cut(i, [net.gateway]);
    try {
      const refused = await eventually(() => eventsSince(mark), (e) => e.some((x) => x.includes(`failover refused: replicas still connected to ${before.id}`)), 20_000);
      expect(refused.some((x) => x.includes('failover refused'))).toBe(true);
      // Several detection windows later, still no failover.
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      net.heal(i);
    }
    const after = await eventually(() => m.info(), (x) => x.nodes.find((n) => n.id === before.id)?.status === 'ready' && x.state === 'RUNNING', 30_000);
    expect(after.nodes.find((n) => n.isMaster)!.id).toBe(before.id);
    expect((await eventsSince(mark)).some((x) => x.includes('failing over'))).toBe(false);
  });

  it('one replica isolated from everyone: the master keeps acknowledging (the other replica acks); after heal it catches up', async () => {
    const mst = await master();
    const c = await connectApp(mst.ip, mst.port, 'mysqldb', password);
    await c.query('CREATE TABLE hosts.r (id INT PRIMARY KEY)');
    const info = await m.info();
    const replica = info.nodes.find((n) => !n.isMaster && n.status === 'ready')!;
    const i = indexOf(replica.ip);
    const others = [net.gateway, ...info.nodes.filter((n) => n.id !== replica.id).map((n) => n.ip)];
    const writer = NsClient.writer(net, indexOf(mst.ip), { host: mst.ip, port: mst.port }, 'hosts.r', 1, password);
    writers.push(writer);
    try {
      await writer.waitForAcks(10);
      net.cut(i, others);
      const cutAt = Date.now();
      // Past the time a failover would need, the master still acknowledges.
      await new Promise((r) => setTimeout(r, 4000));
      await writer.waitForAcks(20, 10_000);
      expect(writer.acks.filter((a) => a.at > cutAt + 3000).length).toBeGreaterThanOrEqual(20);
      expect((await m.info()).nodes.find((n) => n.isMaster)!.id).toBe(mst.id);
    } finally {
      net.heal(i);
      await writer.stop();
    }
    const total = Number(await scalar(c, 'SELECT COUNT(*) FROM hosts.r'));
    expect(total).toBeGreaterThanOrEqual(writer.acks.length);
    await c.end();
    // The replica catches up (or is replaced by a copy that has it all).
    const back = await eventually(() => m.info(), (x) => x.state === 'RUNNING' && x.nodes.filter((n) => !n.isMaster).every((n) => n.status === 'ready'), 60_000);
    for (const n of back.nodes.filter((x) => !x.isMaster)) {
      const rc = await connectApp(n.ip, n.port, 'mysqldb', password);
      expect(Number(await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM hosts.r').catch(() => -1), (v) => Number(v) === total, 30_000)), n.id).toBe(total);
      await rc.end();
    }
  });

  it('the manager isolated from everyone: nothing changes on the nodes; after heal the manager resumes without a failover', async () => {
    const before = await master();
    const mark = Date.now();
    const hostsWithNodes = await nodeHosts();
    const c = await connectApp(before.ip, before.port, 'mysqldb', password);
    await c.query('CREATE TABLE hosts.mi (id INT PRIMARY KEY)');
    await c.end();
    // Meanwhile a client on the master's host goes on writing: the replicas still acknowledge.
    const writer = NsClient.writer(net, indexOf(before.ip), { host: before.ip, port: before.port }, 'hosts.mi', 1, password);
    writers.push(writer);
    for (const i of hostsWithNodes) net.cut(i, [net.gateway]);
    try {
      await new Promise((r) => setTimeout(r, 6000));
      await writer.waitForAcks(20, 10_000);
    } finally {
      for (const i of hostsWithNodes) net.heal(i);
      await writer.stop();
    }
    const after = await eventually(() => m.info(), (x) => x.state === 'RUNNING' && x.nodes.every((n) => n.status === 'ready'), 60_000);
    expect(after.nodes.find((n) => n.isMaster)!.id).toBe(before.id);
    const since = await eventsSince(mark);
    expect(since.some((x) => x.includes('failing over'))).toBe(false);
    // The master heard its replicas all along: it never fenced itself.
    expect(since.some((x) => x.includes('was fenced'))).toBe(false);
    expect(after.nodes.map((n) => n.id).sort()).toEqual((await m.info()).nodes.map((n) => n.id).sort());
    const mc = await connectApp(before.ip, before.port, 'mysqldb', password);
    expect(Number(await scalar(mc, 'SELECT COUNT(*) FROM hosts.mi WHERE id IN (?)', [writer.acks.map((a) => a.id)]))).toBe(writer.acks.length);
    await mc.end();
  });

  it('the master isolated from everyone while a client on its host writes: failover on the other side; the isolated master acknowledges nothing once cut; on heal it is fenced and rejoins or is replaced; nothing acknowledged lost', async () => {
    const before = await master();
    const i = indexOf(before.ip);
    const c = await connectApp(before.ip, before.port, 'mysqldb', password);
    await c.query('CREATE TABLE hosts.mx (id INT PRIMARY KEY)');
    await c.end();
    const inside = NsClient.writer(net, i, { host: before.ip, port: before.port }, 'hosts.mx', 1_000_000, password);
    writers.push(inside);
    // Every node sampled every 50 ms, from its own host, for whether it takes writes.
    const nodes = (await m.info()).nodes;
    const samplers = nodes.map((n) => NsClient.sampler(net, indexOf(n.ip), { host: n.ip, port: n.port }, password));
    writers.push(...samplers);
    const router = routers[0]!;
    const outside = new Writer(router.writePort, password, 'hosts.mx');
    let cutAt = 0;
    try {
      await inside.waitForAcks(20);
      outside.acked.length = 0;
      const everyone = [net.gateway, ...net.hosts.filter((_, k) => k !== i).map((h) => h.address)];
      net.cut(i, everyone);
      cutAt = Date.now();
      // The other side fails over; the router's client writes on the new master.
      const failed = await eventually(() => m.info(), (x) => x.nodes.some((n) => n.isMaster && n.status === 'ready' && n.id !== before.id), 30_000);
      expect(failed.nodes.find((n) => n.isMaster)!.id).not.toBe(before.id);
      await outside.waitForAcks(20, 30_000);
    } finally {
      net.heal(i);
      await outside.stop();
    }
    // On heal: the old master is fenced (its commits that waited on an acknowledgement never get one).
    await eventually(() => m.info(), (x) => x.state === 'RUNNING' && x.nodes.length === 4 && x.nodes.every((n) => n.status === 'ready'), 120_000);
    await inside.stop();
    for (const x of samplers) await x.stop();
    // Never two writable nodes in the same 50 ms.
    const writableIn = new Map<number, Set<number>>();
    samplers.forEach((x, k) => {
      for (const p of x.samples.filter((q) => q.writable)) {
        const slot = Math.floor(p.at / 50);
        writableIn.set(slot, (writableIn.get(slot) ?? new Set()).add(k));
      }
    });
    // A failure names the nodes and the times (ms after the cut) of each slot with two writable.
    const twice = [...writableIn.entries()]
      .filter(([, ks]) => ks.size > 1)
      .map(([slot, ks]) => {
        const looks = [...ks].map((k) => {
          const p = samplers[k]!.samples.find((q) => q.writable && Math.floor(q.at / 50) === slot)!;
          return `${nodes[k]!.id} ${p.at - cutAt}–${p.end - cutAt} ms`;
        });
        return `${looks.join(' and ')} after the cut`;
      });
    expect(Math.max(...[...writableIn.values()].map((x) => x.size)), twice.join('; ')).toBe(1);
    expect(samplers.every((x) => x.samples.length > 50)).toBe(true);
    // The isolated master fenced itself: it took no write long before the other side promoted.
    const promotedAt = Date.parse((await m.info()).events.find((e) => Date.parse(e.at) >= cutAt && e.message.startsWith('failover: promoting'))!.at);
    const oldIdx = nodes.findIndex((n) => n.id === before.id);
    const lastWritable = Math.max(...samplers[oldIdx]!.samples.filter((q) => q.writable && q.at < promotedAt + 5000).map((q) => q.at));
    expect(lastWritable).toBeLessThan(promotedAt);
    process.stdout.write(`master isolated: read-only or down ${lastWritable - cutAt} ms after the cut; a replica promoted ${promotedAt - cutAt} ms after it\n`);
    // The isolated master acknowledged nothing after it lost its replicas (an acknowledgement
    // already on its way when the cut came may arrive just after it).
    expect(inside.acks.filter((a) => a.at > cutAt + 500)).toEqual([]);
    // Everything acknowledged, on either side, is on the new master.
    const now = await master();
    expect(now.id).not.toBe(before.id);
    const nc = await connectApp(now.ip, now.port, 'mysqldb', password);
    const ids = [...inside.acks.map((a) => a.id), ...outside.acked];
    expect(Number(await scalar(nc, 'SELECT COUNT(*) FROM hosts.mx WHERE id IN (?)', [ids]))).toBe(new Set(ids).size);
    await nc.end();
    // The former master is a read-only replica of the new one now.
    const old = (await m.info()).nodes.find((n) => n.ip === before.ip)!;
    expect(old.isMaster).toBe(false);
    expect((await m.agent(old).call('get_status', {})).readOnly).toBe(true);
  });
});
