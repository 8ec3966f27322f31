import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/proc.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { connectApp, scalar } from '../helpers/sql.js';

const CLI = resolve('dist/cli/main.js');

/** A client's TLS identity: a certificate and key, or none (then the API token, or nothing). */
interface Identity {
  cert?: string;
  key?: string;
  token?: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The calls of the 2013–14 ConPaaS clients exactly as they sent them (issue #13; ConPaaS-team/conpaas,
 * conpaas-services/src/conpaas/core/https/client.py, cps/mysql.py, the PHP frontend's
 * lib/https and lib/service), against a manager run with `--tls`, authenticated by a client
 * certificate with ConPaaS's `user` role (`cps-mysql user-cert`), not the API token.
 */
describe('the original ConPaaS client and frontend, as they sent their calls', () => {
  let m: ManagerProcess;
  let certDir: string;
  let user: Identity;

  function send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body: Buffer | null, who: Identity): Promise<Answer> {
    return new Promise((resolvePromise, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: m.port,
          path,
          method,
          ca: m.ca!,
          ...(who.cert ? { cert: who.cert, key: who.key } : {}),
          headers: { ...headers, ...(who.token ? { authorization: `Bearer ${who.token}` } : {}), ...(body ? { 'content-length': String(body.length) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolvePromise({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
            } catch {
              resolvePromise({ status: res.statusCode ?? 0, body: { raw: text } });
            }
          });
        },
      );
      req.on('error', reject);
      if (body) req.write(body);
      req.end();
    });
  }

  /** client.py's jsonrpc_get: method and id "1" in the query, params as a JSON string (left out when empty), content-type set. */
  const pyGet = (method: string, params: Record<string, unknown> = {}, who: Identity = user): Promise<Answer> => {
    const q = new URLSearchParams({ method, id: '1', ...(Object.keys(params).length > 0 ? { params: JSON.stringify(params) } : {}) });
    return send('GET', `/?${q.toString()}`, { 'content-type': 'application/json' }, null, who);
  };
  /** client.py's jsonrpc_post: {method, params, id: "1"}. */
  const pyPost = (method: string, params: Record<string, unknown> = {}, who: Identity = user): Promise<Answer> =>
    send('POST', '/', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ method, params, id: '1' })), who);
  /** The PHP frontend's POST: jsonrpc 2.0, id 1 (a number); its `Expect:` header line tells curl to send no Expect header. */
  const phpPost = (method: string, params: Record<string, unknown> | unknown[]): Promise<Answer> =>
    send('POST', '/', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ method, params, jsonrpc: '2.0', id: 1 })), user);
  /** The PHP frontend's GET: params always there, `[]` when empty (json_encode of an empty PHP array). */
  const phpGet = (method: string, params: Record<string, unknown> | unknown[]): Promise<Answer> =>
    send('GET', `/?${new URLSearchParams({ method, params: JSON.stringify(params), id: '1' }).toString()}`, { 'content-type': 'application/json' }, null, user);

  const waitFor = async (state: string, timeoutMs = 120_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await pyGet('get_service_info');
      const result = r.body['result'] as Record<string, unknown>;
      if (result['state'] === state && result['operation'] === null) return result;
      if (Date.now() > deadline) throw new Error(`still ${String(result['state'])}`);
      await sleep(200);
    }
  };

  beforeAll(async () => {
    m = await ManagerProcess.start({ args: ['--tls'] });
    certDir = mkdtempSync(join(tmpdir(), 'cps-user-cert-'));
    const out = execFileSync(process.execPath, [CLI, 'user-cert', 'alice', '--data-dir', m.dataDir, '--out', certDir], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([join(certDir, 'cert.pem'), join(certDir, 'key.pem'), join(certDir, 'ca_cert.pem')]);
    user = { cert: readFileSync(join(certDir, 'cert.pem'), 'utf8'), key: readFileSync(join(certDir, 'key.pem'), 'utf8') };
  });
  afterAll(async () => {
    await m?.cleanup();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  it('cps start: startup {"cloud": "default"} (the manager\'s cloud), answered with its id "1"', async () => {
    const r = await pyPost('startup', { cloud: 'default' });
    expect(r).toEqual({ status: 200, body: { result: { state: 'PROLOGUE' }, error: null, id: '1' } });
    const info = await waitFor('RUNNING');
    expect(info['type']).toBe('mysql');
    const unknown = await pyPost('add_nodes', { slaves: 1, cloud: 'ec2' });
    expect(unknown.body['error']).toBe("add_nodes: cloud 'ec2' is not configured (available: default, local)");
  });

  it('cps info: get_service_info, list_nodes, get_node_info as GETs', async () => {
    const nodes = (await pyGet('list_nodes')).body['result'] as Record<string, string[]>;
    expect(nodes['masters']).toEqual(['node-1']);
    const details = (await pyGet('get_node_info', { serviceNodeId: 'node-1' })).body['result'] as { serviceNode: Record<string, unknown> };
    expect(details.serviceNode).toMatchObject({ id: 'node-1', ip: '127.0.0.1', isMaster: true, isSlave: false });
    const php = await phpGet('get_service_info', []);
    expect(php.body).toMatchObject({ result: { state: 'RUNNING' }, error: null });
  });

  it('cps add_nodes and remove_nodes, and the frontend\'s changeNodes form ({masters: 0, slaves: n})', async () => {
    expect((await pyPost('add_nodes', { slaves: 1, cloud: 'default' })).body).toMatchObject({ result: { state: 'ADAPTING' }, error: null });
    await waitFor('RUNNING');
    expect((await phpPost('add_nodes', { masters: 0, slaves: 1, cloud: 'default' })).body).toMatchObject({ result: { state: 'ADAPTING' }, id: 1 });
    await waitFor('RUNNING');
    expect(((await pyGet('list_nodes')).body['result'] as { slaves: string[] }).slaves).toHaveLength(2);
    expect(JSON.stringify((await phpPost('add_nodes', { masters: 1, slaves: 1, cloud: 'default' })).body['error'])).toMatch(/masters.*exactly one master/);
    expect((await phpPost('remove_nodes', { masters: 0, slaves: 1 })).body).toMatchObject({ result: { state: 'ADAPTING' } });
    await waitFor('RUNNING');
    expect((await pyPost('remove_nodes', { slaves: 1 })).body).toMatchObject({ result: { state: 'ADAPTING' } });
    await waitFor('RUNNING');
    expect(((await pyGet('list_nodes')).body['result'] as { slaves: string[] }).slaves).toHaveLength(0);
  });

  it('cps set_password {user: "mysqldb", password}: the new password logs in', async () => {
    const pw = `cps "pw" ${Date.now()}`;
    expect((await pyPost('set_password', { user: 'mysqldb', password: pw })).body).toMatchObject({ result: { user: 'mysqldb' }, error: null });
    const master = ((await pyGet('get_node_info', { serviceNodeId: 'node-1' })).body['result'] as { serviceNode: { ip: string; port: number } }).serviceNode;
    const c = await connectApp(master.ip, master.port, 'mysqldb', pw);
    expect(Number(await scalar(c, 'SELECT 1'))).toBe(1);
    await c.end();
  });

  it("load_dump as the ConPaaS client uploads it: its multipart boundary ('----------_BoUnDaRy_StRiNg_$'), method first, the file's path as its name", async () => {
    const boundary = '----------_BoUnDaRy_StRiNg_$';
    const dump = 'CREATE DATABASE conpaas;\nCREATE TABLE conpaas.t (a INT);\nINSERT INTO conpaas.t VALUES (1), (2);\n';
    const body = Buffer.from(
      [
        `--${boundary}`,
        'Content-Disposition: form-data; name="method"',
        '',
        'load_dump',
        `--${boundary}`,
        'Content-Disposition: form-data; name="mysqldump_file"; filename="/home/alice/backups/conpaas.sql"',
        'Content-Type: application/x-sql',
        '',
        dump,
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    );
    const r = await send('POST', '/', { 'content-type': `multipart/form-data; boundary=${boundary}` }, body, user);
    expect(r.status).toBe(200);
    expect(r.body['error']).toBeNull();
    expect(r.body['result']).toMatchObject({ bytes: Buffer.byteLength(dump), statements: 3, schemas: ['conpaas'], warnings: [] });
  });

  it('cps logs: getLog answers lines a person reads', async () => {
    const log = ((await pyGet('getLog')).body['result'] as { log: string }).log;
    expect(log).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} INFO {2}/m);
    expect(log).not.toMatch(/^\{"level"/m);
    const raw = ((await pyGet('getLog', { format: 'json' })).body['result'] as { log: string }).log;
    expect(raw.split('\n')[0]).toMatch(/^\{"level":/);
  });

  it('authentication: the user certificate or the token; no certificate, a node\'s certificate (no role) or a wrong token: 401', async () => {
    expect((await pyGet('get_service_info', {}, { token: m.token })).status).toBe(200);
    expect((await pyGet('get_service_info', {}, {})).status).toBe(401);
    expect((await pyGet('get_service_info', {}, { token: 'nope' })).status).toBe(401);
    const nodeDir = join(m.dataDir, 'pki', 'nodes', 'node-1');
    const nodeCert = { cert: readFileSync(join(nodeDir, 'agent.crt'), 'utf8'), key: readFileSync(join(nodeDir, 'agent.key'), 'utf8') };
    expect((await pyGet('get_service_info', {}, nodeCert)).status).toBe(401);
  });

  it('cps stop / terminate: shutdown, then STOPPED', async () => {
    expect((await pyPost('shutdown')).body).toMatchObject({ result: { state: 'EPILOGUE' }, error: null });
    await waitFor('STOPPED');
  });
});
