import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StaticCloudDriver, type PooledHost } from '../../src/cloud/static/static-driver.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { eventually } from '../helpers/sql.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { NetnsHosts } from '../helpers/netns.js';
import { cloudDriverContract } from './cloud-driver.contract.js';

const CLI = resolve('dist/cli/main.js');
const HOSTS = 11;

/**
 * The static driver under the CloudDriver contract, on real hosts: network namespaces on a bridge
 * of the test's, each running `cps-mysql agent join` against a manager of the static cloud (TLS)
 * that minted a token per host. Once they joined, the manager stops; the driver runs in the test
 * over the manager's host records (its state.db) and calls the hosts' agents with its
 * certificate. A node vanishes as a machine taken out of the cloud: its host record is removed.
 */
cloudDriverContract('static (hosts joined from network namespaces)', async () => {
  const net = NetnsHosts.create(HOSTS);
  const agents: ChildProcess[] = [];
  const dirs: string[] = [];
  let m: ManagerProcess | null = null;
  let store: SqliteStore | null = null;
  const cleanup = async (): Promise<void> => {
    store?.close();
    await m?.cleanup();
    await net.killAll();
    net.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    m = await ManagerProcess.start({ args: ['--tls', '--cloud', 'static', '--host', net.gateway] });
    const mgr = m;
    for (const [i, h] of net.hosts.entries()) {
      const t = await mgr.client.call('create_join_token', { address: h.address });
      const dir = mkdtempSync(join(tmpdir(), `cps-host-${i}-`));
      chmodSync(dir, 0o711);
      dirs.push(dir);
      agents.push(net.spawnIn(i, process.execPath, [CLI, 'agent', 'join', '--manager', `https://${net.gateway}:${mgr.port}`, '--ca-hash', t.caHash, '--dir', dir, '--host', h.address], { stdio: 'ignore', env: { ...process.env, CPS_MYSQL_JOIN_TOKEN: t.token } }));
    }
    const joined = await eventually(() => mgr.client.call('list_hosts', {}), (r) => r.hosts.length === HOSTS && r.hosts.every((x) => x.state === 'free'), 60_000);
    if (joined.hosts.length !== HOSTS) throw new Error(`only ${joined.hosts.length} of ${HOSTS} hosts joined`);
    await mgr.kill('SIGTERM');
    store = new SqliteStore(join(mgr.dataDir, 'state.db'));
    const pool = store.hostStore;
    const agentOf = (h: PooledHost) => mgr.agent({ ip: h.address, agentPort: h.agentPort }, 120_000);
    const driver = new StaticCloudDriver(pool, {
      ping: async (h) => void (await agentOf(h).call('check_agent_process', {})),
      wipe: async (h) => void (await agentOf(h).call('wipe', {})),
    });
    return {
      driver,
      cleanup,
      vanish: async (id) => {
        const h = pool.hostOf(id);
        if (!h) throw new Error(`no node ${id}`);
        pool.removeHost(h.address, new Date().toISOString());
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
});
