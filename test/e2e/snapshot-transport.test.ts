import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../helpers/manager-process.js';

describe('a manager started with --no-snapshot-channel (a firewall that lets only the agent port through)', () => {
  let m: ManagerProcess;
  const agentLog = (id: string): string => readFileSync(join(m.dataDir, 'nodes', id, 'agent.log'), 'utf8');

  beforeAll(async () => {
    m = await ManagerProcess.start({ args: ['--no-snapshot-channel'] });
  });

  afterAll(async () => {
    await m.cleanup();
  });

  it('provisions a replica over the agents\' HTTPS API at once, no data channel tried', async () => {
    await m.client.call('startup', {});
    await m.waitFor('RUNNING');
    await m.client.call('add_nodes', { slaves: 1 });
    const info = await m.waitFor('RUNNING');
    const replica = info.nodes.find((n) => !n.isMaster)!;
    expect(replica.replication).toMatchObject({ ioRunning: 'Yes', sqlRunning: 'Yes' });
    expect(agentLog(replica.id)).toMatch(/"over":"https"[^\n]*"provisioned from snapshot"/);
    expect(agentLog(replica.id)).not.toMatch(/no data channel/);
    const master = info.nodes.find((n) => n.isMaster)!;
    expect(agentLog(master.id)).toMatch(/"streaming a snapshot"/);
    expect(agentLog(master.id)).not.toMatch(/sending a snapshot over a data channel/);
  });
});
