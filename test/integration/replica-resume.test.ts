import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { rootAt } from '../helpers/nodes.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';
import { isAlive, sleep } from '../../src/util/proc.js';

const REPL = { user: 'repl', password: `repl-${Date.now()}` };

/**
 * A replica whose recorded position (`mysql.gtid_slave_pos`) lags what its binary log holds, as
 * after a crash between a DDL statement's commit and the write of its position: replication
 * resumes after the last transaction it holds, never applying one twice (gtid_strict_mode would
 * stop it with error 1950), whether its server is restarted or it is re-pointed.
 */
describe('a replica resumes from what its binary log holds (real mariadbd)', () => {
  const agents: AgentProcess[] = [];
  let master: AgentProcess;
  let replica: AgentProcess;
  let mc: Connection;
  let nextId = 1;

  const masterPos = async (): Promise<string> => (await master.client.call('get_status', {})).gtid!.binlogPos;
  const caughtUp = async (): Promise<void> => {
    const want = await masterPos();
    const s = await eventually(() => replica.client.call('get_status', {}), (s) => s.gtid?.slavePos === want || (s.replication?.lastSqlErrno ?? 0) !== 0, 20_000);
    expect(s.replication).toMatchObject({ sqlRunning: 'Yes', ioRunning: 'Yes', lastSqlErrno: 0 });
    expect(s.gtid?.slavePos).toBe(want);
  };
  /** Ends with a DDL statement, then forgets on the replica that it applied it, as a crash there can. */
  const ddlThenForget = async (table: string): Promise<string> => {
    await mc.query(`INSERT INTO r.t VALUES (${nextId++})`);
    await mc.query(`CREATE TABLE r.${table} (id INT PRIMARY KEY)`);
    await caughtUp();
    const root = await rootAt(replica.dir);
    try {
      await root.query('STOP SLAVE');
      await root.query('SET SESSION sql_log_bin = 0');
      const [rows] = await root.query('SELECT MAX(seq_no) AS s FROM mysql.gtid_slave_pos');
      const last = Number((rows as Array<{ s: number }>)[0]!.s);
      await root.query('DELETE FROM mysql.gtid_slave_pos WHERE seq_no = ?', [last]);
      const [left] = await root.query('SELECT COUNT(*) AS n FROM mysql.gtid_slave_pos');
      // The older position stays recorded (MariaDB keeps a few rows until it purges them).
      expect(Number((left as Array<{ n: number }>)[0]!.n)).toBeGreaterThan(0);
      return `0-1-${last - 1}`;
    } finally {
      await root.end();
    }
  };

  beforeAll(async () => {
    agents.push(...(await Promise.all([AgentProcess.start(), AgentProcess.start()])));
    [master, replica] = agents as [AgentProcess, AgentProcess];
    await Promise.all(agents.map((a, i) => a.client.call('init_server', { serverId: i + 1 })));
    await master.client.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
    await master.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    await replica.client.call('configure_replica', { master: { host: master.host, port: master.mysqlPort, ...REPL } });
    mc = await connectApp(master.host, master.mysqlPort);
    await mc.query('CREATE DATABASE r');
    await mc.query('CREATE TABLE r.t (id INT PRIMARY KEY)');
  });
  afterAll(async () => {
    await mc?.end().catch(() => undefined);
    await stopAll(agents);
  });

  it('a replica killed after a DDL statement, whose position lags its binary log, restarts and replicates without error 1950', async () => {
    await ddlThenForget('a');
    const pid = replica.mysqldPid()!;
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
    // Its agent sees the crash (as the manager's check does) before it is asked to start it again.
    await eventually(() => replica.client.call('get_status', {}), (s) => s.mysqld.state === 'crashed', 10_000);
    await mc.query(`INSERT INTO r.t VALUES (${nextId++}), (${nextId++})`);
    await replica.client.call('init_server', { serverId: 2 });
    await caughtUp();
    const rc = await connectApp(replica.host, replica.mysqlPort);
    try {
      expect(Number(await scalar(rc, 'SELECT COUNT(*) FROM r.t'))).toBe(nextId - 1);
      expect(Number(await scalar(rc, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'r' AND TABLE_NAME = 'a'"))).toBe(1);
    } finally {
      await rc.end();
    }
  });

  it('a replica stopped cleanly with a lagging recorded position is started again without re-applying', async () => {
    await ddlThenForget('b');
    await replica.client.call('stop', {});
    await mc.query(`INSERT INTO r.t VALUES (${nextId++})`);
    await replica.client.call('init_server', { serverId: 2 });
    await caughtUp();
  });

  it('a replica re-pointed (configure_replica) while its recorded position lags resumes after what it holds', async () => {
    const older = await ddlThenForget('c');
    // The server's own view of the position goes back too, as when it was read from the table at start.
    const root = await rootAt(replica.dir);
    try {
      await root.query('SET GLOBAL gtid_slave_pos = ?', [older]);
    } finally {
      await root.end();
    }
    await mc.query(`INSERT INTO r.t VALUES (${nextId++})`);
    await replica.client.call('configure_replica', { master: { host: master.host, port: master.mysqlPort, ...REPL } });
    await caughtUp();
  });
});
