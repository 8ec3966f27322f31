import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { ManagerProcess, processesUnder } from '../helpers/manager-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

describe('manager: switchover, attach and removal', () => {
  let m: ManagerProcess;
  let password: string;
  const conns: Connection[] = [];

  const connect = async (addr: string): Promise<Connection> => {
    const [host, port] = addr.split(':');
    const c = await connectApp(host!, Number(port), 'mysqldb', password);
    conns.push(c);
    return c;
  };

  beforeAll(async () => {
    m = await ManagerProcess.start();
    await m.client.call('startup', { slaves: 3 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
    const mc = await connect((await m.info()).master!);
    await mc.query('CREATE DATABASE t');
    await mc.query('CREATE TABLE t.x (id INT PRIMARY KEY)');
    await mc.query('INSERT INTO t.x VALUES (1)');
  });

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await m.cleanup();
  });

  it('switches the master over to a replica; writes then go to it and reach every node', async () => {
    expect(await m.client.call('set_up_replica_master', { serviceNodeId: 'node-3' })).toEqual({ state: 'ADAPTING' });
    const info = await m.waitFor('RUNNING');
    expect(await m.client.call('list_nodes', {})).toEqual({ masters: ['node-3'], slaves: ['node-1', 'node-2', 'node-4'], serviceNode: ['node-1', 'node-2', 'node-3', 'node-4'] });
    expect(info.events.map((e) => e.message)).toContain('switchover complete: node-3 is the master; node-1, node-2 and node-4 follow it');
    const node3 = (await m.client.call('get_node_info', { serviceNodeId: 'node-3' })).serviceNode;
    expect(info.master).toBe(`${node3.ip}:${node3.port}`);

    const mc = await connect(info.master!);
    await mc.query('INSERT INTO t.x VALUES (2)');
    for (const addr of info.slaves) {
      const rc = await connect(addr);
      expect(Number(await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM t.x'), (v) => Number(v) === 2))).toBe(2);
      await expect(rc.query('INSERT INTO t.x VALUES (3)')).rejects.toThrow(/read-only/);
    }
    const old = await eventually(async () => (await m.client.call('get_node_info', { serviceNodeId: 'node-1' })).serviceNode, (n) => n.replication?.ioRunning === 'Yes');
    expect(old).toMatchObject({ role: 'replica', readOnly: true });
    expect(old.replication?.masterPort).toBe(node3.port);
  });

  it('refuses a switchover to the master itself, and to an unknown node', async () => {
    await expect(m.client.call('set_up_replica_master', { serviceNodeId: 'node-3' })).rejects.toThrow('set_up_replica_master: node-3 is already the master');
    await expect(m.client.call('set_up_replica_master', { id: 'node-77' })).rejects.toThrow(/no node node-77/);
  });

  it('attaches a replica again with set_up_replica_slave, and refuses the master', async () => {
    await m.client.call('set_up_replica_slave', { serviceNodeId: 'node-2' });
    const info = await m.waitFor('RUNNING');
    expect(info.events.at(-1)?.message).toBe('node-2 replicates from node-3');
    await expect(m.client.call('set_up_replica_slave', { serviceNodeId: 'node-3' })).rejects.toThrow(/node-3 is the master/);
  });

  it('never removes the master, and says so', async () => {
    await expect(m.client.call('remove_nodes', { serviceNodeId: 'node-3' })).rejects.toThrow('remove_nodes: node-3 is the master and cannot be removed; make another node the master first (set_up_replica_master)');
    await expect(m.client.call('remove_nodes', { slaves: 4 })).rejects.toThrow('remove_nodes: the service has 3 replicas, cannot remove 4; the master is never removed');
    expect((await m.info()).state).toBe('RUNNING');
  });

  it('removes a replica by id, then by count, leaving no process of theirs behind', async () => {
    await m.client.call('remove_nodes', { serviceNodeId: 'node-1' });
    await m.waitFor('RUNNING');
    expect((await m.client.call('list_nodes', {})).serviceNode).toEqual(['node-2', 'node-3', 'node-4']);
    expect(processesUnder(`${m.dataDir}/nodes/node-1/`)).toEqual([]);
    await m.client.call('remove_nodes', { slaves: 2 });
    const info = await m.waitFor('RUNNING');
    expect((await m.client.call('list_nodes', {})).serviceNode).toEqual(['node-3']);
    expect(info.desiredReplicas).toBe(0);
    for (const id of ['node-2', 'node-4']) expect(processesUnder(`${m.dataDir}/nodes/${id}/`)).toEqual([]);
    const mc = await connect(info.master!);
    expect(Number(await scalar(mc, 'SELECT COUNT(*) FROM t.x'))).toBe(2);
  });
});
