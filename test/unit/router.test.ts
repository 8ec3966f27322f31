import { describe, expect, it } from 'vitest';
import type { ServiceInfo, ServiceNodeInfo } from '../../src/protocol/manager-api.js';
import { haproxyConfig, OLD_WORKER_SECONDS } from '../../src/router/haproxy-config.js';
import { Router } from '../../src/router/router.js';
import { AppError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/logger.js';

const OPTS = { writePort: 3306, readPort: 3307, maxLagSeconds: 10, bind: '127.0.0.1' };

function node(id: string, role: 'master' | 'replica', over: Partial<ServiceNodeInfo> = {}): ServiceNodeInfo {
  const n = Number(id.replace('node-', ''));
  return {
    id,
    ip: '127.0.0.1',
    port: 20000 + n * 10,
    agentPort: 20001 + n * 10,
    healthPort: 20002 + n * 10,
    role,
    status: 'ready',
    isMaster: role === 'master',
    isSlave: role === 'replica',
    isRunningMySQL: true,
    readOnly: role === 'replica',
    gtidPosition: '0-1-1',
    replication: null,
    lastSeen: null,
    diagnosis: null,
    servesReads: role === 'replica',
    ...over,
  };
}

function info(nodes: ServiceNodeInfo[]): ServiceInfo {
  return { state: 'RUNNING', type: 'mysql', user: 'mysqldb', master: null, slaves: [], nodes, desiredReplicas: 2, operation: null, error: null, events: [], failover: { enabled: true, blockedUntil: null, checks: 2 }, diagnosis: null, recoverable: { from: null, until: null, secondsBehind: null } };
}

const serverLines = (cfg: string, listen: string): string[] =>
  cfg
    .split(`listen ${listen}`)[1]!
    .split('\n\n')[0]!
    .split('\n')
    .filter((l) => l.trim().startsWith('server '))
    .map((l) => l.trim());

describe('the router\'s HAProxy configuration', () => {
  it('writes: the master first, the other ready nodes as backups; reads: the ready replicas; all checked on the agents', () => {
    const cfg = haproxyConfig(info([node('node-2', 'replica'), node('node-1', 'master'), node('node-3', 'replica')]), OPTS);
    // Old workers (after a reload) check no server: their sessions are bounded (bench item 8).
    expect(cfg.split('\n\n')[0]).toContain(`hard-stop-after ${OLD_WORKER_SECONDS}s`);
    expect(serverLines(cfg, 'mysql-write')).toEqual([
      'server node-1 127.0.0.1:20010 check port 20012',
      'server node-2 127.0.0.1:20020 check port 20022 backup',
      'server node-3 127.0.0.1:20030 check port 20032 backup',
    ]);
    expect(serverLines(cfg, 'mysql-read')).toEqual(['server node-2 127.0.0.1:20020 check port 20022', 'server node-3 127.0.0.1:20030 check port 20032']);
    expect(cfg).toContain('option httpchk GET /primary');
    expect(cfg).toContain('option httpchk GET /replica?lag=10');
    expect(cfg).toContain('bind 127.0.0.1:3306');
    expect(cfg).toContain('on-marked-down shutdown-sessions');
  });

  it('leaves out nodes not in service: being created, provisioned or removed (HAProxy would count them up until a check fails)', () => {
    const cfg = haproxyConfig(info([node('node-1', 'master'), node('node-2', 'replica', { status: 'created' }), node('node-3', 'replica', { status: 'removing' }), node('node-4', 'replica', { ip: '' })]), OPTS);
    expect(serverLines(cfg, 'mysql-write')).toEqual(['server node-1 127.0.0.1:20010 check port 20012']);
    expect(serverLines(cfg, 'mysql-read')).toEqual([]);
  });

  it('without a master in service, every ready node is a backup: whichever answers /primary takes the writes', () => {
    const cfg = haproxyConfig(info([node('node-1', 'master', { status: 'failed' }), node('node-2', 'replica')]), OPTS);
    expect(serverLines(cfg, 'mysql-write')).toEqual(['server node-2 127.0.0.1:20020 check port 20022 backup']);
  });
});

/** A stand-in for HAProxy that records what it was given (the real one runs in the end-to-end tests). */
class RecordingHaproxy {
  configs: string[] = [];
  failReload = false;
  stopped = false;
  async start(config: string): Promise<void> {
    this.configs.push(config);
  }
  async reload(config: string): Promise<void> {
    if (this.failReload) throw new AppError('ENGINE_FAILED', 'haproxy refused the configuration');
    this.configs.push(config);
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

describe('the router follows the manager', () => {
  function setUp() {
    let current: ServiceInfo | Error = info([node('node-1', 'master'), node('node-2', 'replica')]);
    const haproxy = new RecordingHaproxy();
    const router = new Router(
      {
        fetchInfo: async () => {
          if (current instanceof Error) throw current;
          return current;
        },
        haproxy,
        logger: silentLogger(),
      },
      { ...OPTS, pollMs: 60_000 },
    );
    return { router, haproxy, set: (v: ServiceInfo | Error) => (current = v) };
  }

  it('reloads only when the configuration changes: a switchover, an added node; not for a new event', async () => {
    const { router, haproxy, set } = setUp();
    await router.start();
    expect(await router.refresh()).toBe(false);
    set({ ...info([node('node-1', 'master'), node('node-2', 'replica')]), events: [{ at: 'now', message: 'x' }] });
    expect(await router.refresh()).toBe(false);
    set(info([node('node-1', 'replica'), node('node-2', 'master')]));
    expect(await router.refresh()).toBe(true);
    set(info([node('node-1', 'replica'), node('node-2', 'master'), node('node-3', 'replica')]));
    expect(await router.refresh()).toBe(true);
    expect(haproxy.configs).toHaveLength(3);
    expect(router.changes.map((c) => c.master)).toEqual(['node-1', 'node-2', 'node-2']);
    await router.stop();
    expect(haproxy.stopped).toBe(true);
  });

  it('a manager that does not answer changes nothing; neither does a configuration HAProxy refuses', async () => {
    const { router, haproxy, set } = setUp();
    await router.start();
    set(new AppError('PEER_FAILED', 'cannot reach the manager'));
    expect(await router.refresh()).toBe(false);
    set(info([node('node-1', 'replica'), node('node-2', 'master')]));
    haproxy.failReload = true;
    expect(await router.refresh()).toBe(false);
    haproxy.failReload = false;
    expect(await router.refresh()).toBe(true);
    expect(haproxy.configs).toHaveLength(2);
    await router.stop();
  });
});
