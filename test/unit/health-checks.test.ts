import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentStateFile } from '../../src/agent/agent-state.js';
import { createHealthServer, HealthView } from '../../src/agent/health.js';
import type { Engine, EngineStatus } from '../../src/engine/engine.js';

/** The load balancer's view of a node (`/primary`, `/replica?lag=`, `/health`) for each state of its server and agent. */
describe('health checks', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function checks(server: { running: boolean; readOnly: boolean; io?: string; sql?: string; lag?: number | null }, agent: { role: 'master' | 'replica'; fenced?: boolean }) {
    const dir = mkdtempSync(join(tmpdir(), 'cps-health-'));
    dirs.push(dir);
    const state = new AgentStateFile(dir);
    await state.update({ role: agent.role, fenced: agent.fenced ?? false });
    const status: EngineStatus = {
      serverId: 1,
      readOnly: server.readOnly,
      waitNoSlave: false,
      gtid: { binlogPos: '', slavePos: '', currentPos: '' },
      replication:
        agent.role === 'replica'
          ? ({ ioRunning: server.io ?? 'Yes', sqlRunning: server.sql ?? 'Yes', secondsBehindMaster: server.lag === undefined ? 0 : server.lag } as EngineStatus['replication'])
          : null,
    };
    // Only what HealthView reads of an engine.
    const engine = { process: () => ({ state: server.running ? 'running' : 'stopped' }), status: async () => status } as unknown as Engine;
    const app = await createHealthServer(new HealthView(engine), state);
    const get = async (url: string): Promise<number> => (await app.inject({ method: 'GET', url })).statusCode;
    return { get, close: () => app.close() };
  }

  it.each([
    ['the writable master', { running: true, readOnly: false }, { role: 'master' as const }, 200],
    ['a master made read-only (a switchover under way)', { running: true, readOnly: true }, { role: 'master' as const }, 503],
    ['a master a failover fenced, even writable again', { running: true, readOnly: false }, { role: 'master' as const, fenced: true }, 503],
    ['a master whose server is down', { running: false, readOnly: false }, { role: 'master' as const }, 503],
    ['a replica', { running: true, readOnly: true }, { role: 'replica' as const }, 503],
  ])('/primary: %s → %i', async (_n, server, agent, code) => {
    const c = await checks(server, agent);
    expect(await c.get('/primary')).toBe(code);
    await c.close();
  });

  it.each([
    ['a replica in time', { lag: 2 }, '/replica?lag=10', 200],
    ['a replica too far behind', { lag: 30 }, '/replica?lag=10', 503],
    ['a replica whose SQL thread stopped', { sql: 'No', lag: null }, '/replica?lag=10', 503],
    ['a replica whose IO thread reconnects', { io: 'Connecting' }, '/replica?lag=10', 503],
    ['a lag that is not a number', {}, '/replica?lag=soon', 400],
  ])('/replica: %s → %i', async (_n, rep, url, code) => {
    const c = await checks({ running: true, readOnly: true, ...rep }, { role: 'replica' });
    expect(await c.get(url)).toBe(code);
    await c.close();
  });
});
