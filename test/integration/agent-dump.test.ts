import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';

/** Dumps are loaded as the service user: an upload has its uploader's rights. */
const asApp = { params: { user: APP_USER, password: APP_PASSWORD } };

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('logical dump and load, streamed', () => {
  const agents: AgentProcess[] = [];
  const conns: Connection[] = [];
  let source: AgentProcess;
  let target: AgentProcess;
  let replica: AgentProcess;

  beforeAll(async () => {
    [source, target, replica] = await Promise.all([AgentProcess.start(), AgentProcess.start(), AgentProcess.start()]);
    agents.push(source, target, replica);
    await Promise.all(agents.map((a, i) => a.client.call('init_server', { serverId: i + 1 })));
    for (const a of [source, target]) {
      await a.client.call('configure_master', { replUser: 'repl', replPassword: 'dump-repl-pw' });
      await a.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    }
    await replica.client.call('configure_replica', { master: { host: target.host, port: target.mysqlPort, user: 'repl', password: 'dump-repl-pw' } });
  });

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await stopAll(agents);
  });

  it('dumps the user databases of one server and loads them into another, which its replica follows', async () => {
    const sc = await connectApp(source.host, source.mysqlPort);
    conns.push(sc);
    await sc.query('CREATE DATABASE crm');
    await sc.query('CREATE TABLE crm.people (id INT PRIMARY KEY, name VARCHAR(50), photo BLOB)');
    await sc.query('INSERT INTO crm.people VALUES (1, ?, ?), (2, ?, NULL)', ["O'Brien \\ \"quoted\"", Buffer.from([0, 1, 2, 255]), 'Zoë']);
    await sc.query('CREATE VIEW crm.names AS SELECT name FROM crm.people');

    const dump = await readAll(await source.client.stream('dump', {}));
    expect(dump).toContain('CREATE DATABASE');
    expect(dump).toContain('`people`');
    expect(dump).not.toContain('`mysql`.');

    const res = await target.client.upload('load_dump', 'mysqldump_file', Readable.from([Buffer.from(dump)]), asApp);
    expect(res.bytes).toBe(Buffer.byteLength(dump));

    const tc = await connectApp(target.host, target.mysqlPort);
    conns.push(tc);
    expect(await scalar(tc, 'SELECT name FROM crm.people WHERE id = 1')).toBe("O'Brien \\ \"quoted\"");
    expect(await scalar(tc, 'SELECT photo FROM crm.people WHERE id = 1')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(Number(await scalar(tc, 'SELECT COUNT(*) FROM crm.names'))).toBe(2);

    // What was loaded on the master reached its replica by replication.
    const rc = await connectApp(replica.host, replica.mysqlPort);
    conns.push(rc);
    const n = await eventually(() => scalar(rc, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crm' AND TABLE_NAME = 'people'"), (v) => Number(v) === 1);
    expect(Number(n)).toBe(1);
    const rows = await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM crm.people'), (v) => Number(v) === 2);
    expect(Number(rows)).toBe(2);

    // A dump of the loaded copy equals the original, apart from its timestamp lines.
    const again = await readAll(await target.client.stream('dump', {}));
    const strip = (s: string): string => s.split('\n').filter((l) => !l.startsWith('-- Dump completed') && !l.startsWith('-- Host:') && !l.startsWith('-- MariaDB dump')).join('\n');
    expect(strip(again)).toBe(strip(dump));
  });

  it('reports a failing dump as an error and leaves earlier data alone', async () => {
    const bad = Buffer.from('CREATE DATABASE broken;\nTHIS IS NOT SQL;\n');
    await expect(target.client.upload('load_dump', 'mysqldump_file', Readable.from([bad]), asApp)).rejects.toThrow(/ERROR 1064/);
    const tc = await connectApp(target.host, target.mysqlPort);
    conns.push(tc);
    expect(Number(await scalar(tc, 'SELECT COUNT(*) FROM crm.people'))).toBe(2);
  });

  it('refuses load_dump on a replica, and an upload without a file', async () => {
    await expect(replica.client.upload('load_dump', 'mysqldump_file', Readable.from([Buffer.from('SELECT 1;')]), asApp)).rejects.toThrow(/replica/);
    await expect(replica.client.upload('load_dump', 'wrong_field', Readable.from([Buffer.from('SELECT 1;')]), asApp)).rejects.toThrow(/mysqldump_file/);
  });
});
