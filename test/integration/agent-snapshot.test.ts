import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';

const REPL = { user: 'repl', password: 'snapshot-repl-secret' };
const ROWS = 100_000;

describe('a replica provisioned from a physical snapshot', () => {
  const agents: AgentProcess[] = [];
  const conns: Connection[] = [];
  let master: AgentProcess;
  let mc: Connection;

  beforeAll(async () => {
    master = await AgentProcess.start();
    agents.push(master);
    await master.client.call('init_server', { serverId: 1 });
    await master.client.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
    await master.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    mc = await connectApp(master.host, master.mysqlPort);
    conns.push(mc);
    await mc.query('CREATE DATABASE big');
    await mc.query('CREATE TABLE big.t (id INT PRIMARY KEY, payload VARCHAR(64)) ENGINE=InnoDB');
    // 100,000 rows in batches: a recursive CTE generates them on the server.
    await mc.query('SET SESSION max_recursive_iterations = 1000000');
    for (let start = 0; start < ROWS; start += 20_000) {
      await mc.query(
        'INSERT INTO big.t SELECT n, SHA1(n) FROM (WITH RECURSIVE s(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM s WHERE n < ?) SELECT n FROM s) x',
        [start + 1, start + 20_000],
      );
    }
  });

  /** Inserts rows from id `first` on, one at a time, until stopped; `stop` answers the ids the master acknowledged. */
  const startWriter = (first: number, payload: string): { stop: () => Promise<number[]> } => {
    const acked: number[] = [];
    let writing = true;
    const done = (async () => {
      const wc = await connectApp(master.host, master.mysqlPort);
      for (let id = first; writing; id++) {
        await wc.query('INSERT INTO big.t VALUES (?, ?)', [id, payload]);
        acked.push(id);
      }
      await wc.end();
    })();
    return {
      stop: async () => {
        writing = false;
        await done;
        return acked;
      },
    };
  };

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await stopAll(agents);
  });

  it('holds every row of the master, including those written while the snapshot was taken, and then follows new writes', async () => {
    const replica = await AgentProcess.start();
    agents.push(replica);

    // A writer keeps inserting while the snapshot is streamed; every acknowledged id is recorded.
    const writer = startWriter(ROWS + 1, 'during');

    let result;
    let acked: number[] = [];
    try {
      result = await replica.client.call('provision_from', {
        source: { host: master.host, port: master.port },
        master: { host: master.host, port: master.mysqlPort, ...REPL },
        serverId: 2,
      });
    } finally {
      acked = await writer.stop();
    }
    expect(result.bytes).toBeGreaterThan(1_000_000);
    expect(result.restoredGtid).toMatch(/^0-1-[0-9]+$/);
    expect(result.role).toBe('replica');

    const rc = await connectApp(replica.host, replica.mysqlPort);
    conns.push(rc);
    const total = ROWS + acked.length;
    expect(acked.length).toBeGreaterThan(0);
    const n = await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM big.t'), (v) => Number(v) === total);
    expect(Number(n)).toBe(total);
    expect(Number(await scalar(rc, 'SELECT COUNT(*) FROM big.t WHERE id <= ?', [ROWS]))).toBe(ROWS);

    await mc.query('INSERT INTO big.t VALUES (?, ?)', [9_000_000, 'after']);
    const after = await eventually(() => scalar(rc, 'SELECT payload FROM big.t WHERE id = 9000000'), (v) => v === 'after');
    expect(after).toBe('after');
    const s = await replica.client.call('get_status', {});
    expect(s.replication).toMatchObject({ ioRunning: 'Yes', sqlRunning: 'Yes', lastSqlError: '' });

    // Calling provision_from again is safe: the node already follows that master.
    const again = await replica.client.call('provision_from', {
      source: { host: master.host, port: master.port },
      master: { host: master.host, port: master.mysqlPort, ...REPL },
      serverId: 2,
    });
    expect(again).toMatchObject({ role: 'replica', bytes: 0 });
  });

  it('refuses to provision a node that already holds data', async () => {
    await expect(
      master.client.call('provision_from', {
        source: { host: master.host, port: master.port },
        master: { host: master.host, port: master.mysqlPort, ...REPL },
        serverId: 3,
      }),
    ).rejects.toThrow(/already holds data/);
  });

  it('fails cleanly when the source is not an agent, and can then be provisioned', async () => {
    const replica = await AgentProcess.start();
    agents.push(replica);
    await expect(
      replica.client.call('provision_from', {
        source: { host: '127.0.0.1', port: 1 },
        master: { host: master.host, port: master.mysqlPort, ...REPL },
        serverId: 4,
      }),
    ).rejects.toThrow(/cannot reach/);
    const st = await replica.client.call('get_status', {});
    expect(st.mysqld.state).toBe('uninitialized');
    const ok = await replica.client.call('provision_from', {
      source: { host: master.host, port: master.port },
      master: { host: master.host, port: master.mysqlPort, ...REPL },
      serverId: 4,
    });
    expect(ok.role).toBe('replica');
  });

  it('a provisioning that failed once its copy was laid down (its server could not start) is done again from nothing by the next call', async () => {
    const replica = await AgentProcess.start();
    agents.push(replica);
    // Something else holds the node's MySQL port: the restored server cannot bind it and exits.
    const squatter: Server = createServer();
    await new Promise<void>((ok, ko) => squatter.once('error', ko).listen(replica.mysqlPort, replica.host, ok));
    const ask = () =>
      replica.client.call('provision_from', {
        source: { host: master.host, port: master.port },
        master: { host: master.host, port: master.mysqlPort, ...REPL },
        serverId: 5,
      });
    try {
      await expect(ask()).rejects.toThrow();
      expect((await replica.client.call('get_status', {})).mysqld.state).not.toBe('running');
    } finally {
      await new Promise<void>((ok) => squatter.close(() => ok()));
    }
    // The same request again: the half-done copy is wiped and the node provisioned.
    const ok = await ask();
    expect(ok.role).toBe('replica');
    const rc = await connectApp(replica.host, replica.mysqlPort);
    conns.push(rc);
    expect(await eventually(async () => Number(await scalar(rc, 'SELECT COUNT(*) FROM big.t')), (n) => n >= ROWS)).toBeGreaterThanOrEqual(ROWS);
    // A different request is still refused: the node now serves a copy.
    await expect(replica.client.call('provision_from', { source: { host: master.host, port: master.port }, master: { host: master.host, port: master.mysqlPort, ...REPL }, serverId: 6 })).rejects.toThrow(/already holds data/);
  });
  it('over a data channel (socat, outside Node; a Unix socket between agents of one host) the copy holds every row written up to it and then follows the master', async () => {
    const replica = await AgentProcess.start();
    agents.push(replica);
    const writer = startWriter(20_000_000, 'during-channel');
    let result;
    let acked: number[] = [];
    try {
      result = await replica.client.call('provision_from', {
        source: { host: master.host, port: master.port },
        master: { host: master.host, port: master.mysqlPort, ...REPL },
        serverId: 7,
        channel: { source: 'node-master', host: replica.host },
      });
    } finally {
      acked = await writer.stop();
    }
    expect(result.role).toBe('replica');
    // Nobody counted the bytes (they went from program to program): the count is the size extracted.
    expect(result.bytes).toBeGreaterThan(1_000_000);
    expect(replica.logs).toMatch(/"over":"channel"[^\n]*provisioned from snapshot/);
    // Both agents are on this host (the same address): the channel is a Unix socket, no TLS to pay for.
    expect(master.logs).toMatch(/"to":\{"socket":"[^"]+\.sock"\}[^\n]*sending a snapshot over a data channel/);
    // One receiver: mariadb-backup wrote into the connection itself (no byte through the donor agent, no socat there).
    expect(master.logs).toMatch(/"straight":true[^\n]*sending a snapshot over a data channel/);
    const rc = await connectApp(replica.host, replica.mysqlPort);
    conns.push(rc);
    const want = Number(await scalar(mc, 'SELECT COUNT(*) FROM big.t'));
    expect(await eventually(async () => Number(await scalar(rc, 'SELECT COUNT(*) FROM big.t')), (n) => n === want)).toBe(want);
    expect(Number(await scalar(rc, 'SELECT COUNT(*) FROM big.t WHERE payload = ?', ['during-channel']))).toBe(acked.length);
  });

  it('a channel this node cannot open (an address socat would need quoted) falls back to HTTPS', async () => {
    const replica = await AgentProcess.start();
    agents.push(replica);
    const ok = await replica.client.call('provision_from', {
      source: { host: master.host, port: master.port },
      master: { host: master.host, port: master.mysqlPort, ...REPL },
      serverId: 8,
      channel: { source: 'node-master', host: '::1' },
    });
    expect(ok.role).toBe('replica');
    expect(replica.logs).toMatch(/no data channel here/);
    expect(replica.logs).toMatch(/"over":"https"[^\n]*provisioned from snapshot/);
  });

  it('a donor that cannot open a channel says so in a way the receiver recognises; an unknown send is NOT_FOUND', async () => {
    await expect(master.client.call('send_snapshot', { to: { host: '::1', port: 9 } })).rejects.toMatchObject({ code: 'WRONG_STATE', details: { channel: 'unavailable' } });
    // A same-host socket that is not one the receiving agent made (here, no socket at all) is refused the same way.
    await expect(master.client.call('send_snapshot', { to: { socket: '/etc/passwd' } })).rejects.toMatchObject({ code: 'WRONG_STATE', details: { channel: 'unavailable' } });
    await expect(master.client.call('snapshot_sent', { id: 'AAAAAAAAAAAAAAAAAAAAAA', timeoutSeconds: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
