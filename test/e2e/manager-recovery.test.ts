import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagerProcess, processesUnder } from '../helpers/manager-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';
import { isAlive, sleep } from '../../src/util/proc.js';

function agentPid(m: ManagerProcess, id: string): number {
  return (JSON.parse(readFileSync(join(m.dataDir, 'nodes', id, 'node.json'), 'utf8')) as { pid: number }).pid;
}

describe('manager: failures from outside, a killed manager, shutdown and startup again', () => {
  const managers: ManagerProcess[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.cleanup()));
  });

  it('drops from list_nodes a node whose agent was killed from outside, leaving no process of it', async () => {
    const m = await ManagerProcess.start();
    managers.push(m);
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    const pid = agentPid(m, 'node-3');
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
    // list_nodes answers from memory: the next monitoring round (500 ms) drops the lost node.
    // (A replacement may be registered in the very next round: node-3 gone is what is checked.)
    const listed = await eventually(() => m.client.call('list_nodes', {}), (l) => !l.serviceNode.includes('node-3'), 5_000);
    expect(listed.masters).toEqual(['node-1']);
    expect(listed.serviceNode).not.toContain('node-3');
    expect(listed.slaves[0]).toBe('node-2');
    expect(processesUnder(join(m.dataDir, 'nodes', 'node-3'))).toEqual([]);
    const info = await m.info();
    expect(info.events.map((e) => e.message)).toContain('node-3 vanished from the cloud: dropped from the registry');
    // The service keeps the size the user asked for: a fresh replica replaces the lost one.
    const healed = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.slaves.length === 2, 60_000);
    expect(healed.events.map((e) => e.message)).toContain('the service has 1 of 2 replicas: provisioning 1 to replace what was lost');
    expect((await m.client.call('list_nodes', {})).slaves).toEqual(['node-2', 'node-4']);
  });

  it('converges after the manager is killed with SIGKILL in the middle of add_nodes', async () => {
    const m = await ManagerProcess.start();
    managers.push(m);
    await m.client.call('startup', {});
    await m.waitFor('RUNNING');
    const password = await m.client.call('get_password', {});
    const [host, port] = (await m.info()).master!.split(':');
    const mc = await connectApp(host!, Number(port), 'mysqldb', password);
    await mc.query('CREATE DATABASE k');
    await mc.query('CREATE TABLE k.t (id INT PRIMARY KEY)');
    await mc.query('INSERT INTO k.t VALUES (1), (2), (3)');

    await m.client.call('add_nodes', { slaves: 2 });
    // Kill it once the new nodes exist and are being provisioned.
    await eventually(() => m.info(), (i) => (i.operation?.step ?? '').startsWith('add_nodes: provisioning') || i.state === 'RUNNING', 60_000);
    await m.kill('SIGKILL');
    await m.launch();
    const info = await m.waitFor('RUNNING');
    expect(info.slaves).toHaveLength(2);
    const nodes = await m.client.call('list_nodes', {});
    expect(nodes).toEqual({ masters: ['node-1'], slaves: ['node-2', 'node-3'], serviceNode: ['node-1', 'node-2', 'node-3'] });
    // Every process under the data directory belongs to a node the registry knows: one agent and one mariadbd each.
    const known = new Set(nodes.serviceNode);
    for (const pid of processesUnder(join(m.dataDir, 'nodes'))) {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const id = /nodes\/(node-[0-9]+)/.exec(cmd)?.[1];
      expect(id && known.has(id)).toBe(true);
    }
    expect(processesUnder(join(m.dataDir, 'nodes'))).toHaveLength(6);
    for (const addr of info.slaves) {
      const [h, p] = addr.split(':');
      const rc = await connectApp(h!, Number(p), 'mysqldb', password);
      expect(Number(await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM k.t'), (v) => Number(v) === 3))).toBe(3);
      await rc.end();
    }
    await mc.end();
  });

  it('shuts down to STOPPED with no process left, and starts again', async () => {
    const m = managers[1]!;
    await expect(m.client.call('shutdown', {})).resolves.toEqual({ state: 'EPILOGUE' });
    const stopped = await m.waitFor('STOPPED');
    expect(stopped.nodes).toEqual([]);
    expect(stopped.master).toBeNull();
    expect(processesUnder(join(m.dataDir, 'nodes'))).toEqual([]);
    await expect(m.client.call('add_nodes', { slaves: 1 })).rejects.toThrow('wrong state to add_nodes: STOPPED (accepted: RUNNING)');
    await m.client.call('startup', { slaves: 1 });
    const again = await m.waitFor('RUNNING');
    expect(again.slaves).toHaveLength(1);
    expect((await m.client.call('list_nodes', {})).masters).toHaveLength(1);
  });
});
