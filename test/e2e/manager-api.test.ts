import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../helpers/manager-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';
import { templateKey } from '../../src/engine/mariadb/datadir-template.js';

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('manager API: bad calls change nothing; dumps round-trip; passwords change', () => {
  let m: ManagerProcess;
  let url: string;

  beforeAll(async () => {
    m = await ManagerProcess.start();
    url = m.client.url;
  });
  afterAll(async () => {
    await m.cleanup();
  });

  const raw = async (body: unknown): Promise<{ status: number; json: { result: unknown; error: string | null; code?: string } }> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${m.token}` }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { result: unknown; error: string | null; code?: string } };
  };

  it('answers calls in the wrong state with the state and the accepted ones', async () => {
    expect((await m.info()).state).toBe('INIT');
    for (const method of ['add_nodes', 'remove_nodes', 'shutdown', 'set_up_replica_master']) {
      const params = method === 'add_nodes' || method === 'remove_nodes' ? { slaves: 1 } : method === 'shutdown' ? {} : { serviceNodeId: 'node-1' };
      const r = await raw({ method, params, id: 1 });
      expect(r.json.code).toBe('WRONG_STATE');
      expect(r.json.error).toMatch(new RegExp(`^wrong state to ${method}: INIT \\(accepted: `));
    }
    expect((await m.info()).state).toBe('INIT');
    await expect(m.client.call('get_password', {})).rejects.toThrow('the service has not been started: call startup first');
  });

  it('names the parameter that is missing, unexpected or of the wrong type, and changes nothing', async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ method: 'startup', params: { slaves: 'two' } }, 200, 'INVALID_PARAMS', /parameter 'slaves' must be a number, got string/],
      [{ method: 'startup', params: { slaves: -1 } }, 200, 'INVALID_PARAMS', /parameter 'slaves'/],
      [{ method: 'startup', params: { cloud: 'ec2' } }, 200, 'INVALID_PARAMS', /cloud 'ec2' is not configured \(available: default, local\)/],
      [{ method: 'startup', params: { nodes: 3 } }, 200, 'INVALID_PARAMS', /unexpected parameter 'nodes'/],
      [{ method: 'get_node_info', params: {} }, 200, 'INVALID_PARAMS', /needs 'serviceNodeId'/],
      [{ method: 'get_node_info', params: { serviceNodeId: 'x', id: 'y' } }, 200, 'INVALID_PARAMS', /needs 'serviceNodeId' \(or the seed's 'id'\), once/],
      [{ method: 'launch_missiles', params: {} }, 404, 'METHOD_NOT_FOUND', /method not found: launch_missiles/],
      [{ params: {} }, 400, 'NO_METHOD', /no method/],
    ];
    for (const [body, status, code, error] of cases) {
      const r = await raw(body);
      expect(r.status).toBe(status);
      expect(r.json.code).toBe(code);
      expect(r.json.error).toMatch(error);
    }
    const get = await fetch(`${url}?method=startup&params=${encodeURIComponent('{}')}`, { headers: { authorization: `Bearer ${m.token}` } });
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: string }).error).toBe('startup changes state: call it with POST');
    const info = await m.info();
    expect(info.state).toBe('INIT');
    expect(info.nodes).toEqual([]);
  });

  it("makes its host's data-directory template as it starts, before any service asks for a node (local cloud)", async () => {
    const ready = join(m.dataDir, 'datadir-templates', templateKey(), 'ready');
    const made = await eventually(async () => existsSync(ready), (x) => x, 30_000);
    expect(made).toBe(true);
    // Logged once the template is in place: the line reaches the test through a pipe, after the
    // file is visible (no order between the two), so it is waited for too.
    const logged = await eventually(async () => m.logs.includes('data-directory template made'), (x) => x, 10_000);
    expect(logged).toBe(true);
  });

  it('starts, then refuses add_nodes parameters it does not understand', async () => {
    await m.client.call('startup', {});
    await m.waitFor('RUNNING');
    await expect(m.client.call('add_nodes', {} as never)).rejects.toThrow(/needs 'slaves'/);
    await expect(m.client.call('add_nodes', { slaves: 100 })).rejects.toThrow(/parameter 'slaves'/);
    await expect(m.client.call('remove_nodes', { slaves: 1, serviceNodeId: 'node-1' })).rejects.toThrow(/not both/);
    expect((await m.info()).state).toBe('RUNNING');
  });

  it("accepts the seed's add_nodes form {function: 'agent'}", async () => {
    await m.client.call('add_nodes', { function: 'agent' });
    const info = await m.waitFor('RUNNING');
    expect(info.slaves).toHaveLength(1);
  });

  it('round-trips a dump: load_dump into the master, sqldump back out, replicas follow', async () => {
    const dump = [
      'CREATE DATABASE shop;',
      'CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40));',
      "INSERT INTO shop.items VALUES (1, 'tea'), (2, 'O''Reilly');",
      '',
    ].join('\n');
    const r = await m.client.upload('load_dump', 'mysqldump_file', Readable.from([Buffer.from(dump)]));
    expect(r.bytes).toBe(Buffer.byteLength(dump));
    const out = await readAll(await m.client.stream('sqldump', {}));
    expect(out).toContain('CREATE DATABASE');
    expect(out).toContain("(2,'O\\'Reilly')");
    const info = await m.info();
    const password = await m.client.call('get_password', {});
    const [h, p] = info.slaves[0]!.split(':');
    const rc = await connectApp(h!, Number(p), 'mysqldb', password);
    expect(await eventually(() => scalar(rc, 'SELECT name FROM shop.items WHERE id = 2').catch(() => null), (v) => v === "O'Reilly")).toBe("O'Reilly");
    await rc.end();
  });

  it('changes the password on every node; any characters work', async () => {
    const pw = `n€w "pa'ss" \\ ${Date.now()}`;
    expect(await m.client.call('set_password', { password: pw })).toEqual({ user: 'mysqldb' });
    expect(await m.client.call('get_password', {})).toBe(pw);
    await expect(m.client.call('set_password', { user: 'root', password: 'x' })).rejects.toThrow("the service's user is 'mysqldb', not 'root'");
    const info = await m.info();
    for (const addr of [info.master!, ...info.slaves]) {
      const [h, p] = addr.split(':');
      const c = await eventually(() => connectApp(h!, Number(p), 'mysqldb', pw).catch(() => null), (c) => c !== null);
      expect(c).not.toBeNull();
      await c!.end();
    }
    const log = (await m.client.call('getLog', {})).log;
    expect(log).toContain('manager listening');
    expect(log).not.toContain(pw);
  });
});
