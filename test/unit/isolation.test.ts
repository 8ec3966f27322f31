import { describe, expect, it } from 'vitest';
import { IsolationWatch, isolationVerdict, type IsolationFacts } from '../../src/agent/isolation.js';
import { createLogger } from '../../src/util/logger.js';

const base: IsolationFacts = { role: 'master', fenced: false, sinceManagerMs: 5000, leaseMs: 1000, waitNoSlave: true, replicasAnswering: 0 };

describe('a master cut off from everyone fences itself: the decision', () => {
  const cases: [string, Partial<IsolationFacts>, ReturnType<typeof isolationVerdict>][] = [
    ['no manager for the lease, no replica answers: fence', {}, 'fence'],
    ['no manager, replicas not asked yet: ask them', { replicasAnswering: null }, 'ask-replicas'],
    ['no manager, one replica answers (the manager is the one cut off): keep', { replicasAnswering: 1 }, 'keep'],
    ['the manager looked within the lease (replicas down, the manager repairs them): keep', { sinceManagerMs: 400 }, 'keep'],
    ['a service with no replica commits alone (wait_no_slave OFF): keep', { waitNoSlave: false }, 'keep'],
    ['the server does not answer (wait_no_slave unknown), nothing reached: fence', { waitNoSlave: null }, 'fence'],
    ['a replica is never fenced so', { role: 'replica' }, 'keep'],
    ['a node with no role yet', { role: 'none' }, 'keep'],
    ['fenced already: nothing more', { fenced: true }, 'keep'],
  ];
  for (const [name, over, verdict] of cases) it(name, () => expect(isolationVerdict({ ...base, ...over })).toBe(verdict));
});

/** A stateful model of what the watch acts through: the server, its replicas, the fence. */
function model(o: { role?: 'master' | 'replica'; waitNoSlave?: boolean; replicas?: { host: string; port: number; up: boolean }[]; answers?: boolean }) {
  const fences: number[] = [];
  const probed: string[] = [];
  let fenced = false;
  const replicas = o.replicas ?? [];
  const watch = new IsolationWatch(
    {
      engine: {
        process: () => ({ state: 'running', pid: 1, lastExit: null }),
        status: async () => {
          if (o.answers === false) throw new Error('timeout');
          return { serverId: 1, readOnly: fenced, waitNoSlave: o.waitNoSlave ?? true, gtid: { binlogPos: '', slavePos: '', currentPos: '' }, replication: null };
        },
        connectedReplicas: async () => replicas.map(({ host, port }) => ({ host, port })),
      },
      state: { get: () => ({ serverId: 1, settings: {}, role: o.role ?? 'master', masterHost: null, masterPort: null, restoredGtid: null, provisioning: false, fenced, deniedSerials: [] }) },
      logger: createLogger('test', { level: 'silent' }),
      greets: async (host, port) => {
        probed.push(`${host}:${port}`);
        return replicas.find((r) => r.host === host && r.port === port)?.up ?? false;
      },
      fence: async (deadlineMs) => {
        fences.push(deadlineMs);
        fenced = true;
        return 'read_only';
      },
    },
    { leaseMs: 0, probeMs: 10, intervalMs: 1000, fenceDeadlineMs: 700 },
  );
  return { watch, fences, probed };
}

describe('a master cut off from everyone fences itself: the watch', () => {
  it('fences once, with its deadline, when no replica greets and the manager is silent', async () => {
    const m = model({ replicas: [{ host: '10.0.0.2', port: 3306, up: false }, { host: '10.0.0.3', port: 3306, up: false }] });
    expect(await m.watch.look()).toBe('fence');
    expect(m.probed).toEqual(['10.0.0.2:3306', '10.0.0.3:3306']);
    expect(await m.watch.look()).toBe('keep');
    expect(m.fences).toEqual([700]);
  });

  it('keeps the master when one replica still greets it (only the manager is cut off)', async () => {
    const m = model({ replicas: [{ host: '10.0.0.2', port: 3306, up: false }, { host: '10.0.0.3', port: 3306, up: true }] });
    expect(await m.watch.look()).toBe('keep');
    expect(m.fences).toEqual([]);
  });

  it('keeps a master with no replica to wait for (wait_no_slave OFF), and never asks', async () => {
    const m = model({ waitNoSlave: false });
    expect(await m.watch.look()).toBe('keep');
    expect(m.probed).toEqual([]);
    expect(m.fences).toEqual([]);
  });

  it('fences a master whose server does not answer its agent while nothing reaches it', async () => {
    const m = model({ answers: false, replicas: [{ host: '10.0.0.2', port: 3306, up: true }] });
    expect(await m.watch.look()).toBe('fence');
  });

  it('does nothing on a replica', async () => {
    const m = model({ role: 'replica' });
    expect(await m.watch.look()).toBe('keep');
    expect(m.fences).toEqual([]);
  });

  it('does nothing while the manager keeps looking', async () => {
    const m = model({});
    const w = new IsolationWatch((m.watch as unknown as { deps: ConstructorParameters<typeof IsolationWatch>[0] }).deps, { leaseMs: 60_000, probeMs: 10, intervalMs: 1000, fenceDeadlineMs: 700 });
    w.managerSeen();
    expect(await w.look()).toBe('keep');
    expect(m.fences).toEqual([]);
  });
});
