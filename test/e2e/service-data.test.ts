import { Readable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { sleep } from '../../src/util/proc.js';
import { killAndWait } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { pidsOf } from '../helpers/nodes.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

/**
 * What a migrating user sends and expects (issue #13), over real mariadbd: dumps that would split
 * the service are made whole, triggers, routines, views and events work as the service user and
 * events run on the master only, through a switchover and a failover; application accounts;
 * performance over a window that means something.
 */
describe('data a user brings, and the accounts and objects it needs (real mariadbd)', () => {
  let m: ManagerProcess;
  let password: string;
  const info = (): Promise<ServiceInfo> => m.info();
  const node = (i: ServiceInfo, id: string) => i.nodes.find((n) => n.id === id)!;
  const masterNode = async () => (await info()).nodes.find((n) => n.isMaster && n.status === 'ready')!;
  async function on<T>(id: string, fn: (c: Connection) => Promise<T>, user = 'mysqldb', pw = password): Promise<T> {
    const n = node(await info(), id);
    const c = await connectApp(n.ip, n.port, user, pw);
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
  const onMaster = async <T>(fn: (c: Connection) => Promise<T>): Promise<T> => on((await masterNode()).id, fn);
  const load = (sql: string) => m.client.upload('load_dump', 'mysqldump_file', Readable.from([Buffer.from(sql)]));
  const ids = async (): Promise<string[]> => (await info()).nodes.filter((n) => n.status === 'ready').map((n) => n.id);

  beforeAll(async () => {
    m = await ManagerProcess.start({ args: ['--failover-block-seconds', '0'] });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  it("a MySQL 8 dump made with GTIDs on (binary log off, GTID_PURGED) reaches every replica, and survives a switchover", async () => {
    const dump = [
      '-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)',
      'SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;',
      'SET @@SESSION.SQL_LOG_BIN= 0;',
      "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-208';",
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
      'USE `shop`;',
      'CREATE TABLE `orders` (`id` int NOT NULL, `total` decimal(10,2) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB;',
      "INSERT INTO `orders` VALUES (1,9.50),(2,12.00),(3,7.25);",
      '/*!50001 CREATE ALGORITHM=UNDEFINED */',
      '/*!50013 DEFINER=`shopadmin`@`%` SQL SECURITY DEFINER */',
      '/*!50001 VIEW `big_orders` AS select `orders`.`id` AS `id` from `orders` where `orders`.`total` > 8 */;',
      'SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;',
      '',
    ].join('\n');
    const r = await load(dump);
    expect(r.schemas).toEqual(['shop']);
    expect(r.warnings.join('\n')).toMatch(/2 statements left out \(binlog-off, lines 3, 12\)/);
    expect(r.warnings.join('\n')).toMatch(/1 statement left out \(gtid-position, line 4\)/);
    expect(r.warnings.join('\n')).toMatch(/1 statement rewritten \(definer, line 9\)/);
    expect(Object.values(r.replicas)).toEqual(['the same 1 table as the master', 'the same 1 table as the master']);
    for (const id of await ids()) expect(await on(id, async (c) => Number(await scalar(c, 'SELECT COUNT(*) FROM shop.big_orders'))), id).toBe(2);
    await m.client.call('set_up_replica_master', { serviceNodeId: 'node-2' });
    await m.waitFor('RUNNING');
    expect(await on('node-2', async (c) => Number(await scalar(c, 'SELECT SUM(total) FROM shop.orders')))).toBe(28.75);
  });

  it('a dump that fails half-way leaves no database it created, on any node; one refused loads nothing', async () => {
    const failing = 'CREATE DATABASE halfway;\nCREATE TABLE halfway.t (a INT);\nINSERT INTO halfway.t VALUES (1);\nINSERT INTO halfway.t VALUES (;\n';
    await expect(load(failing)).rejects.toThrow(/^load_dump failed: ERROR 1064 \(42000\) at line 4: .*the databases the load created were dropped: halfway$/);
    await expect(load("CREATE DATABASE refused;\nLOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE refused.t;\n")).rejects.toThrow(/the dump is refused, nothing was loaded: line 2/);
    await sleep(500);
    for (const id of await ids()) {
      expect(await on(id, async (c) => Number(await scalar(c, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('halfway', 'refused')"))), id).toBe(0);
    }
  });

  it('triggers, functions, procedures, views and events work as the service user and replicate', async () => {
    await onMaster(async (c) => {
      await c.query('CREATE DATABASE app');
      await c.query('CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, doubled INT)');
      await c.query('CREATE TABLE app.ticks (id INT AUTO_INCREMENT PRIMARY KEY, server INT NOT NULL, at DATETIME(3) NOT NULL)');
      await c.query('CREATE TRIGGER app.dbl BEFORE INSERT ON app.t FOR EACH ROW SET NEW.doubled = NEW.v * 2');
      await c.query('CREATE FUNCTION app.triple(x INT) RETURNS INT DETERMINISTIC RETURN x * 3');
      await c.query('CREATE PROCEDURE app.add_one(IN x INT) INSERT INTO app.t (v) VALUES (x)');
      await c.query('CREATE VIEW app.v AS SELECT v, app.triple(v) AS tripled FROM app.t');
      await c.query('CREATE EVENT app.tick ON SCHEDULE EVERY 1 SECOND DO INSERT INTO app.ticks (server, at) VALUES (@@server_id, NOW(3))');
      await c.query('CALL app.add_one(7)');
    });
    for (const id of await ids()) {
      const row = await on(id, async (c) => eventually(() => scalar(c, 'SELECT CONCAT(doubled, "/", tripled) FROM app.t JOIN app.v USING (v)').catch(() => null), (x) => x === '14/21'));
      expect(row, id).toBe('14/21');
    }
  });

  /** Ticks of the event written since `since`, by server id. */
  async function ticksBy(since: Date): Promise<Map<number, number>> {
    const rows = await onMaster(async (c) => (await c.query('SELECT server, COUNT(*) AS n FROM app.ticks WHERE at > ? GROUP BY server', [since]))[0] as Array<{ server: number; n: number }>);
    return new Map(rows.map((r) => [Number(r.server), Number(r.n)]));
  }

  it('the event runs on the master only, and keeps running after a switchover and after a failover', async () => {
    const serverOf = (id: string): number => Number(id.replace('node-', ''));
    let from = new Date();
    let master = (await masterNode()).id;
    await eventually(() => ticksBy(from), (t) => (t.get(serverOf(master)) ?? 0) >= 2, 10_000);
    for (const id of (await ids()).filter((x) => x !== master)) {
      const scheduler = await on(id, async (c) => String(await scalar(c, 'SELECT @@event_scheduler')));
      expect(scheduler, `${id} is a replica`).toBe('OFF');
    }
    // Switchover: the new master's copy of the event was disabled on the replica side; it runs now.
    const target = (await ids()).find((x) => x !== master)!;
    await m.client.call('set_up_replica_master', { serviceNodeId: target });
    await m.waitFor('RUNNING');
    from = new Date();
    await eventually(() => ticksBy(from), (t) => (t.get(serverOf(target)) ?? 0) >= 3, 15_000);
    let ticks = await ticksBy(from);
    expect([...ticks.keys()]).toEqual([serverOf(target)]);
    master = target;
    // Failover: the master killed; the promoted replica runs the event.
    await killAndWait(Object.values(pidsOf(m, master)));
    const after = await eventually(() => info(), (i) => i.nodes.some((n) => n.isMaster && n.status === 'ready' && n.id !== master), 30_000);
    const promoted = after.nodes.find((n) => n.isMaster && n.status === 'ready')!.id;
    from = new Date();
    await eventually(() => ticksBy(from), (t) => (t.get(serverOf(promoted)) ?? 0) >= 3, 15_000);
    ticks = await ticksBy(from);
    expect([...ticks.keys()]).toEqual([serverOf(promoted)]);
    await m.waitFor('RUNNING', 120_000);
  });

  it('application accounts: one that reads one database only, on every node, after a switchover; its password changes; it is dropped', async () => {
    const reader = `shop reader "ü" ${Date.now()}`;
    const pw1 = `p'w"1 ${Math.random()}`;
    await m.client.call('create_user', { user: reader, password: pw1, privileges: ['SELECT'], databases: ['shop'] });
    const listed = (await m.client.call('list_users', {})).users;
    expect(listed).toContainEqual({ user: reader, host: '%', databases: ['shop'], privileges: ['SELECT'] });
    expect(listed.some((u) => ['mysqldb', 'repl', 'root', 'cps-mysql'].includes(u.user))).toBe(false);
    const master = (await masterNode()).id;
    expect(await on(master, async (c) => Number(await scalar(c, 'SELECT COUNT(*) FROM shop.orders')), reader, pw1)).toBe(3);
    await expect(on(master, (c) => c.query('INSERT INTO shop.orders VALUES (9, 1)'), reader, pw1)).rejects.toThrow(/INSERT command denied/);
    await expect(on(master, (c) => c.query('SELECT * FROM app.t'), reader, pw1)).rejects.toThrow(/SELECT command denied|Access denied/);
    await expect(m.client.call('create_user', { user: 'mysqldb', password: 'x', privileges: ['ALL'] })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(m.client.call('create_user', { user: 'x', password: 'x', privileges: ['SUPER'] })).rejects.toThrow(/not a privilege an application account may hold: SUPER/);
    await expect(m.client.call('create_user', { user: 'x', password: 'x', privileges: ['SELECT'], databases: ['mysql'] })).rejects.toThrow(/server's own schemas/);
    // Replicated: after a switchover the account logs in on the new master, and on every node.
    const target = (await ids()).find((x) => x !== master)!;
    await m.client.call('set_up_replica_master', { serviceNodeId: target });
    await m.waitFor('RUNNING');
    for (const id of await ids()) expect(await on(id, async (c) => Number(await scalar(c, 'SELECT COUNT(*) FROM shop.orders')), reader, pw1), id).toBe(3);
    const pw2 = `second ${Math.random()}`;
    await m.client.call('set_user_password', { user: reader, password: pw2 });
    await sleep(300);
    for (const id of await ids()) {
      await expect(on(id, (c) => c.query('SELECT 1'), reader, pw1), id).rejects.toThrow(/Access denied/);
      expect(await on(id, async (c) => Number(await scalar(c, 'SELECT 1')), reader, pw2), id).toBe(1);
    }
    await m.client.call('drop_user', { user: reader });
    await expect(m.client.call('drop_user', { user: reader })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await sleep(300);
    for (const id of await ids()) await expect(on(id, (c) => c.query('SELECT 1'), reader, pw2), id).rejects.toThrow(/Access denied/);
    expect((await m.client.call('list_users', {})).users.some((u) => u.user === reader)).toBe(false);
  });

  it('performance: a burst, then a look 5 s later: nothing "now", the burst in the 1-minute figure, with a p95', async () => {
    await onMaster(async (c) => {
      for (let i = 0; i < 300; i++) await c.query('SELECT SLEEP(0) FROM DUAL');
    });
    await sleep(5000);
    const p = await m.client.call('get_service_performance', {});
    expect(p.window).toBe('1m');
    expect(p.request_rate).toBeGreaterThan(0);
    expect(p.windows['1m'].request_rate).toBe(p.request_rate);
    expect(p.windows.now.request_rate).toBeLessThan(p.request_rate);
    expect(p.response_time_p95).not.toBeNull();
    const five = await m.client.call('get_service_performance', { window: '5m' });
    expect(five.window).toBe('5m');
    expect(five.request_rate).toBe(five.windows['5m'].request_rate);
  });
});
