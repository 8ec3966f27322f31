import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentApi } from '../../src/protocol/agent-api.js';
import { managerApi } from '../../src/protocol/manager-api.js';
import { RpcClient } from '../../src/rpc/client.js';
import { ensureCa, issueCertificate, readPem } from '../../src/util/pki.js';
import { listenChannel } from '../../src/util/tls-channel.js';
import { byteCounter } from '../helpers/channel.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { freePort } from '../helpers/ports.js';

const CLI = resolve('dist/cli/main.js');

/** Every file below `dir`, recursively (logs and state included). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Command lines of every process on the machine (what `ps` shows). */
function allCommandLines(): string {
  const lines: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      lines.push(readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone
    }
  }
  return lines.join('\n');
}

describe('security: only the owner gets in; secrets stay secret', () => {
  let m: ManagerProcess;
  const scratch = mkdtempSync(join(tmpdir(), 'cps-sec-'));
  let psDuringRun = '';

  beforeAll(async () => {
    m = await ManagerProcess.start();
    await m.client.call('startup', { slaves: 1 });
    await m.waitFor('RUNNING');
    psDuringRun += allCommandLines();
    await m.client.call('set_password', { password: `n3w'"\\ sécret ${Date.now()}` });
    await m.client.call('add_nodes', { slaves: 1 });
    psDuringRun += allCommandLines();
    await m.waitFor('RUNNING');
    psDuringRun += allCommandLines();
  });

  afterAll(async () => {
    await m.cleanup();
    await rm(scratch, { recursive: true, force: true });
  });

  it('refuses the manager API without the token, or with a wrong one, before reading the body', async () => {
    const url = m.client.url;
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${m.token}` }, { authorization: `Bearer ${m.token}x` }];
    for (const headers of attempts) {
      const res = await fetch(`${url}?method=get_service_info`, { headers });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { code: string; error: string; result: unknown };
      expect(body).toMatchObject({ code: 'UNAUTHORIZED', result: null });
      expect(body.error).not.toContain(m.token);
    }
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${url}?method=get_service_info`, { headers: { authorization: `Bearer ${m.token}` } });
    expect(ok.status).toBe(200);
    await expect(new RpcClient(managerApi, { url, token: 'nope' }).call('get_password', {})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('keeps the token, the state and the keys readable by their owner only', () => {
    for (const f of ['api-token', 'state.db', 'pki/ca.key', 'pki/manager/manager.key', 'pki/nodes/node-1/agent.key', 'nodes/node-1/tls/agent.key']) {
      expect(statSync(join(m.dataDir, f)).mode & 0o077, f).toBe(0);
    }
  });

  it('agents answer only over mutual TLS, and only to certificates of this service', async () => {
    const info = await m.info();
    const node = info.nodes.find((n) => n.id === 'node-1')!;
    // The manager's own certificate works.
    await expect(m.agent(node).call('check_agent_process', {})).resolves.toMatchObject({ ok: true });
    // Plain HTTP, and HTTPS without a client certificate, are refused.
    await expect(new RpcClient(agentApi, { url: `http://${node.ip}:${node.agentPort}/`, timeoutMs: 3000 }).call('get_status', {})).rejects.toThrow();
    const ca = readFileSync(join(m.dataDir, 'pki', 'ca.crt'), 'utf8');
    await expect(new RpcClient(agentApi, { url: `https://${node.ip}:${node.agentPort}/`, timeoutMs: 3000, tls: { ca } }).call('get_status', {})).rejects.toThrow(/cannot reach/);
    // A certificate named "manager" but signed by another service's CA (a forgery) is refused.
    const otherCa = await ensureCa(join(scratch, 'other-ca'), 'other');
    const forged = readPem(await issueCertificate(otherCa, 'manager', ['127.0.0.1'], join(scratch, 'forged'), 'manager'));
    await expect(
      new RpcClient(agentApi, { url: `https://${node.ip}:${node.agentPort}/`, timeoutMs: 3000, tls: { ca, cert: forged.cert, key: forged.key } }).call('get_status', {}),
    ).rejects.toThrow(/cannot reach/);
  });

  it("lets a peer agent's certificate pull a snapshot only when the manager authorised it, and call nothing else", async () => {
    const info = await m.info();
    const master = info.nodes.find((n) => n.isMaster)!;
    // node-9 is a certificate of this service, but not one the manager authorised for a snapshot.
    const caFiles = { key: join(m.dataDir, 'pki', 'ca.key'), cert: join(m.dataDir, 'pki', 'ca.crt') };
    const peer = readPem(await issueCertificate(caFiles, 'node-9', ['127.0.0.1'], join(scratch, 'peer'), 'agent'));
    const asPeer = new RpcClient(agentApi, { url: `https://${master.ip}:${master.agentPort}/`, timeoutMs: 5000, tls: peer });
    await expect(asPeer.call('set_read_only', { readOnly: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(asPeer.stream('stream_snapshot', {})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await m.agent(master).call('authorize_peer', { peer: 'node-9', ttlSeconds: 60 });
    const stream = await asPeer.stream('stream_snapshot', {});
    let bytes = 0;
    for await (const c of stream) {
      bytes += (c as Buffer).length;
      if (bytes > 1024 * 1024) break;
    }
    stream.destroy();
    expect(bytes).toBeGreaterThan(0);
    // Still nothing else.
    await expect(asPeer.call('get_status', {})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await m.agent(master).call('get_status', {})).readOnly).toBe(false);
  });

  it("sends a snapshot over a data channel only to a listener bearing the authorised peer's certificate, and tells only that peer how the send ended", async () => {
    const info = await m.info();
    const master = info.nodes.find((n) => n.isMaster)!;
    const caFiles = { key: join(m.dataDir, 'pki', 'ca.key'), cert: join(m.dataDir, 'pki', 'ca.crt') };
    const nine = await issueCertificate(caFiles, 'node-9', ['127.0.0.1'], join(scratch, 'peer-channel'), 'agent');
    const eight = await issueCertificate(caFiles, 'node-8', ['127.0.0.1'], join(scratch, 'peer-eight'), 'agent');
    const url = `https://${master.ip}:${master.agentPort}/`;
    const asNine = new RpcClient(agentApi, { url, timeoutMs: 10_000, tls: readPem(nine) });
    const asEight = new RpcClient(agentApi, { url, timeoutMs: 10_000, tls: readPem(eight) });
    /** A listener holding `files`' certificate that takes bytes only from the master (its certificate is named by its node id), counted by `wc -c`. */
    const listen = async (files: typeof nine) => {
      const wc = byteCounter();
      const listener = await listenChannel('127.0.0.1', { ...files, peerName: master.id }, wc.stdin);
      return { listener, counted: wc.count };
    };
    // Without the manager's grant: refused.
    const first = await listen(nine);
    await expect(asNine.call('send_snapshot', { to: { host: '127.0.0.1', port: first.listener.port } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await m.agent(master).call('authorize_peer', { peer: 'node-9', ttlSeconds: 60 });
    // node-9 asks, but the listener at that port holds node-8's certificate: the donor's sender refuses it.
    const wrong = await listen(eight);
    first.listener.close();
    const refused = await asNine.call('send_snapshot', { to: { host: '127.0.0.1', port: wrong.listener.port } });
    await expect(asNine.call('snapshot_sent', { id: refused.id, timeoutSeconds: 30 })).rejects.toMatchObject({ code: 'PEER_FAILED' });
    await wrong.listener.done.catch(() => undefined);
    expect(await wrong.counted).toBe(0);
    // The grant is used up only by a sender that reached its peer: node-9 may still take its one copy.
    const right = await listen(nine);
    const sent = await asNine.call('send_snapshot', { to: { host: '127.0.0.1', port: right.listener.port } });
    await right.listener.done;
    // node-8 cannot learn how node-9's send ended; node-9 can: it ended well. A lone receiver's copy
    // is written by mariadb-backup into the donor's socat itself, so the donor counted nothing.
    await expect(asEight.call('snapshot_sent', { id: sent.id, timeoutSeconds: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const result = await asNine.call('snapshot_sent', { id: sent.id, timeoutSeconds: 30 });
    expect(result).toEqual({ id: sent.id, bytes: null });
    expect(await right.counted).toBeGreaterThan(1_000_000);
    // Used up now.
    const again = await listen(nine);
    await expect(asNine.call('send_snapshot', { to: { host: '127.0.0.1', port: again.listener.port } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    again.listener.close();
    await again.counted;
  });

  it('never shows a secret in logs, process arguments, state files other than the store, or errors', async () => {
    const db = new Database(join(m.dataDir, 'state.db'), { readonly: true });
    const row = db.prepare('SELECT password, repl_password FROM service').get() as { password: string; repl_password: string };
    db.close();
    const secrets = [row.password, row.repl_password, m.token];
    for (const s of secrets) expect(s.length).toBeGreaterThan(8);
    // The manager's log through getLog, and every log file under the data directory.
    const log = (await m.client.call('getLog', {})).log;
    const texts: Array<[string, string]> = [['getLog', log], ['manager output', m.logs], ['ps during the run', psDuringRun], ['ps now', allCommandLines()]];
    for (const f of filesUnder(m.dataDir)) {
      if (/\.(log|err)$/.test(f) || f.endsWith('agent.json') || f.endsWith('node.json') || f.endsWith('my.cnf') || f.endsWith('manager.json')) texts.push([f, readFileSync(f, 'utf8')]);
    }
    for (const [where, text] of texts) {
      for (const s of secrets) expect(text.includes(s), `a secret in ${where}`).toBe(false);
    }
    // Errors name the problem, never the secret given.
    const r = await fetch(m.client.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${m.token}` },
      body: JSON.stringify({ method: 'set_password', params: { user: 'root', password: row.password } }),
    });
    const text = await r.text();
    expect(text).toContain("the service's user is 'mysqldb'");
    expect(text).not.toContain(row.password);
  });

  it('refuses to listen on a non-loopback address without TLS, unless forced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-sec-mgr-'));
    try {
      const r = spawnSync(process.execPath, [CLI, 'manager', '--host', '0.0.0.0', '--port', String(await freePort()), '--data-dir', dir], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('refusing to listen on 0.0.0.0 without TLS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a name that only starts with 127. for what it is, not a loopback address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-sec-mgr-'));
    try {
      const r = spawnSync(process.execPath, [CLI, 'manager', '--host', '127.evil.example', '--port', String(await freePort()), '--data-dir', dir], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe('cps-mysql manager: refusing to listen on 127.evil.example without TLS: it is not a loopback address and the API token would cross the network in clear (use --tls, or --allow-insecure to force it)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('closes the connection of a caller without the token at once, and logs refusals a line a minute', async () => {
    const { port } = new URL(m.client.url);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const sock = connect({ host: '127.0.0.1', port: Number(port) }, () => {
        // A body announced as 10 MB, of which one byte comes: the server must not wait for the rest.
        sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{');
      });
      let answer = '';
      sock.on('data', (d: Buffer) => (answer += d.toString()));
      sock.on('close', () => (answer.startsWith('HTTP/1.1 401') ? resolve(Date.now() - started) : reject(new Error(answer))));
      sock.on('error', () => undefined);
      setTimeout(() => reject(new Error('the connection stayed open')), 5000).unref();
    });
    expect(closedAfter).toBeLessThan(5000);
    await Promise.all(Array.from({ length: 300 }, () => fetch(`${m.client.url}?method=get_service_info`, { headers: { authorization: 'Bearer nope' } }).then((r) => r.arrayBuffer())));
    const lines = readFileSync(join(m.dataDir, 'manager.log'), 'utf8').split('\n').filter((l) => l.includes('requests refused'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
  });

  it('serves the API over HTTPS with --tls, with a certificate the CLI trusts through the CA', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'cps-sec-tls-'));
    const child = spawn(process.execPath, [CLI, 'manager', '--tls', '--port', String(port), '--data-dir', dir], { stdio: 'ignore' });
    try {
      let ca = '';
      const deadline = Date.now() + 20_000;
      let answer: unknown = null;
      while (Date.now() < deadline) {
        try {
          ca = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');
          const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
          answer = await new RpcClient(managerApi, { url: `https://127.0.0.1:${port}/`, token, tls: { ca } }).call('get_service_info', {});
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(answer).toMatchObject({ state: 'INIT' });
      // Plain HTTP to a TLS port gets nothing useful.
      await expect(fetch(`http://127.0.0.1:${port}/?method=get_service_info`)).rejects.toThrow();
      const cli = spawnSync(process.execPath, [CLI, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, CPS_MYSQL_HOME: dir, CPS_MYSQL_MANAGER: '' } });
      expect(cli.status).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ state: 'INIT' });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
