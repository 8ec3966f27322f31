import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';

const REPL = { user: 'repl', password: `r'e"p\\l-${Date.now()}` };

describe('a master and two replicas set up through the agent API', () => {
  const agents: AgentProcess[] = [];
  let master: AgentProcess;
  let replicas: AgentProcess[];
  const conns: Connection[] = [];

  beforeAll(async () => {
    agents.push(...(await Promise.all([AgentProcess.start(), AgentProcess.start(), AgentProcess.start()])));
    [master, ...replicas] = agents as [AgentProcess, ...AgentProcess[]];
    await Promise.all(agents.map((a, i) => a.client.call('init_server', { serverId: i + 1 })));
    await master.client.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
    await master.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    for (const r of replicas) {
      await r.client.call('configure_replica', { master: { host: master.host, port: master.mysqlPort, ...REPL } });
    }
  });

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await stopAll(agents);
  });

  it('reports the roles it was given', async () => {
    const m = await master.client.call('get_status', {});
    expect(m.role).toBe('master');
    expect(m.readOnly).toBe(false);
    expect(m.replication).toBeNull();
    for (const r of replicas) {
      const s = await eventually(() => r.client.call('get_status', {}), (s) => s.replication?.ioRunning === 'Yes');
      expect(s.role).toBe('replica');
      expect(s.readOnly).toBe(true);
      expect(s.replication).toMatchObject({ masterHost: master.host, masterPort: master.mysqlPort, ioRunning: 'Yes', sqlRunning: 'Yes' });
    }
  });

  it('replicates a write on the master to both replicas', async () => {
    const mc = await connectApp(master.host, master.mysqlPort);
    conns.push(mc);
    await mc.query('CREATE DATABASE shop');
    await mc.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40))');
    await mc.query('INSERT INTO shop.orders VALUES (1, ?), (2, ?)', ['teapot', 'ünïcode ☕']);
    const gtid = (await master.client.call('get_status', {})).gtid!.binlogPos;
    for (const r of replicas) {
      const rc = await connectApp(r.host, r.mysqlPort);
      conns.push(rc);
      const s = await eventually(() => r.client.call('get_status', {}), (s) => s.gtid?.slavePos === gtid);
      expect(s.gtid?.slavePos).toBe(gtid);
      expect(await scalar(rc, 'SELECT item FROM shop.orders WHERE id = 2')).toBe('ünïcode ☕');
    }
  });

  it('keeps replicas read-only for the application user', async () => {
    const rc = await connectApp(replicas[0]!.host, replicas[0]!.mysqlPort);
    conns.push(rc);
    await expect(rc.query('INSERT INTO shop.orders VALUES (3, ?)', ['x'])).rejects.toThrow(/read-only/);
  });

  it('refuses set_password and load_dump on a replica, naming the role', async () => {
    await expect(replicas[0]!.client.call('set_password', { user: 'other', password: 'x' })).rejects.toThrow(/replica/);
  });

  it('promotes a replica and re-points the others to it', async () => {
    const [newMaster, other] = replicas as [AgentProcess, AgentProcess];
    await master.client.call('set_read_only', { readOnly: true });
    const gtid = (await master.client.call('get_status', {})).gtid!.binlogPos;
    await eventually(() => newMaster.client.call('get_status', {}), (s) => s.gtid?.slavePos === gtid);
    const promoted = await newMaster.client.call('promote', {});
    expect(promoted).toMatchObject({ role: 'master', readOnly: false, replication: null });
    const target = { master: { host: newMaster.host, port: newMaster.mysqlPort, ...REPL } };
    await other.client.call('configure_replica', target);
    await master.client.call('configure_replica', target);
    // Calling it twice is safe.
    await master.client.call('configure_replica', target);

    const nc = await connectApp(newMaster.host, newMaster.mysqlPort);
    conns.push(nc);
    await nc.query('INSERT INTO shop.orders VALUES (10, ?)', ['after switchover']);
    for (const a of [master, other]) {
      const c = await connectApp(a.host, a.mysqlPort);
      conns.push(c);
      const n = await eventually(() => scalar(c, 'SELECT COUNT(*) FROM shop.orders WHERE id = 10'), (v) => Number(v) === 1);
      expect(Number(n)).toBe(1);
      const s = await a.client.call('get_status', {});
      expect(s).toMatchObject({ role: 'replica', readOnly: true });
      expect(s.replication?.masterPort).toBe(newMaster.mysqlPort);
    }
  });
});
