import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';
import { isAlive, sleep } from '../../src/util/proc.js';

describe('the lifecycle of one node: init, stop, restart, crash, agent restart', () => {
  const agents: AgentProcess[] = [];
  const conns: Connection[] = [];
  let node: AgentProcess;

  const write = async (id: number): Promise<void> => {
    const c = await connectApp(node.host, node.mysqlPort);
    await c.query('INSERT INTO life.t VALUES (?)', [id]);
    await c.end();
  };
  const count = async (): Promise<number> => {
    const c = await connectApp(node.host, node.mysqlPort);
    const n = Number(await scalar(c, 'SELECT COUNT(*) FROM life.t'));
    await c.end();
    return n;
  };

  beforeAll(async () => {
    node = await AgentProcess.start();
    agents.push(node);
  });

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await stopAll(agents);
  });

  it('starts uninitialized, then init_server creates and starts the server, twice safely', async () => {
    expect((await node.client.call('get_status', {})).mysqld.state).toBe('uninitialized');
    const s = await node.client.call('init_server', { serverId: 7, settings: { innodbBufferPoolSize: '64M' } });
    expect(s.mysqld.state).toBe('running');
    expect(s.serverId).toBe(7);
    // A restarted server is read-only until the manager confirms its role.
    expect(s.readOnly).toBe(true);
    const again = await node.client.call('init_server', { serverId: 7 });
    expect(again.mysqld.pid).toBe(s.mysqld.pid);
    await expect(node.client.call('init_server', { serverId: 8 })).rejects.toThrow(/serverId 7/);
    await node.client.call('configure_master', { replUser: 'repl', replPassword: 'life-repl' });
    await node.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    const c = await connectApp(node.host, node.mysqlPort);
    await c.query('CREATE DATABASE life');
    await c.query('CREATE TABLE life.t (id INT PRIMARY KEY)');
    await c.end();
    await write(1);
  });

  it('keeps data across a graceful stop and a start', async () => {
    const stopped = await node.client.call('stop', {});
    expect(stopped.mysqld).toMatchObject({ state: 'stopped', pid: null, lastExit: null });
    expect(node.mysqldPid()).toBeNull();
    await node.client.call('init_server', { serverId: 7 });
    await node.client.call('configure_master', { replUser: 'repl', replPassword: 'life-repl' });
    expect(await count()).toBe(1);
    await write(2);
  });

  it('shows a mariadbd killed with SIGKILL in get_status, and restarts it with its data', async () => {
    const pid = node.mysqldPid();
    expect(pid).not.toBeNull();
    process.kill(pid!, 'SIGKILL');
    const s = await eventually(() => node.client.call('get_status', {}), (s) => s.mysqld.state === 'crashed');
    expect(s.mysqld.state).toBe('crashed');
    expect(s.mysqld.lastExit?.signal).toBe('SIGKILL');
    expect(s.mysqld.pid).toBeNull();
    await expect(node.client.call('get_counters', {})).rejects.toThrow(/crashed/);
    const restarted = await node.client.call('init_server', { serverId: 7 });
    expect(restarted.mysqld.state).toBe('running');
    expect(restarted.readOnly).toBe(true);
    await node.client.call('configure_master', { replUser: 'repl', replPassword: 'life-repl' });
    expect(await count()).toBe(2);
    await write(3);
  });

  it('finds its running server again when the agent itself is killed and restarted', async () => {
    const pid = node.mysqldPid();
    await node.killAgent();
    expect(isAlive(pid!)).toBe(true);
    await node.launch();
    const s = await node.client.call('get_status', {});
    expect(s.mysqld).toMatchObject({ state: 'running', pid });
    expect(s.role).toBe('master');
    expect(await count()).toBe(3);
  });

  it('notices an adopted server that dies, and starts it again', async () => {
    const pid = node.mysqldPid()!;
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
    const s = await eventually(() => node.client.call('get_status', {}), (s) => s.mysqld.state === 'crashed');
    expect(s.mysqld.state).toBe('crashed');
    await node.client.call('init_server', { serverId: 7 });
    expect(await count()).toBe(3);
  });

  it('starts with its server stopped when both were killed, and init_server recovers the data', async () => {
    const pid = node.mysqldPid()!;
    await node.killAgent();
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
    await node.launch();
    const s = await node.client.call('get_status', {});
    expect(s.mysqld.state).toBe('stopped');
    await node.client.call('init_server', { serverId: 7 });
    await node.client.call('configure_master', { replUser: 'repl', replPassword: 'life-repl' });
    expect(await count()).toBe(3);
  });

  it('stops mariadbd when the agent is stopped with SIGTERM', async () => {
    const pid = node.mysqldPid()!;
    await node.stop({ keepDir: true });
    expect(isAlive(pid)).toBe(false);
  });
});
