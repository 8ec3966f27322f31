import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PeerGrants } from '../../src/agent/peer-grants.js';
import { HealthView } from '../../src/agent/health.js';
import type { Engine, EngineStatus } from '../../src/engine/engine.js';
import { layoutOf } from '../../src/engine/mariadb/layout.js';
import { dumpArgs, loadFailure, optionFileValue } from '../../src/engine/mariadb/logical.js';
import { RefusalLog } from '../../src/rpc/refusal-log.js';
import { rotatingLog } from '../../src/util/log-file.js';
import { isLoopbackAddress } from '../../src/util/net.js';
import { assertTraversable } from '../../src/util/os-user.js';
import { checkCertificateNames } from '../../src/util/pki.js';
import { silentLogger } from '../../src/util/logger.js';

describe('values that reach a program never become its options', () => {
  const ctx = { layout: layoutOf('/srv/node-1'), dbUser: { name: 'cps-mysql', uid: 999, gid: 995 } };
  const hostile = ['-r/root/.ssh/authorized_keys', '--plugin-dir=/tmp/evil', '--default-auth=../../x', '--', '-', 'shop'];

  it('puts every database name after the end of mariadb-dump\'s options', () => {
    const args = dumpArgs(ctx, hostile);
    const end = args.indexOf('--');
    expect(end).toBeGreaterThan(0);
    expect(args.slice(end + 1)).toEqual(hostile);
    // Nothing the user named comes before it.
    for (const name of hostile) expect(args.slice(0, end)).not.toContain(name);
    expect(args.slice(0, end)).toContain('--user=cps-mysql');
  });

  it('writes any password into an option file so that it reads back as it was', () => {
    expect(optionFileValue('plain')).toBe('"plain"');
    expect(optionFileValue('a"b\\c#d;e f\n')).toBe('"a\\"b\\\\c#d;e f\\n"');
  });

  it('reports a failed load by its code and line only, never the statement', () => {
    const e = loadFailure("ERROR 1064 (42000) at line 3: You have an error in your SQL syntax; check the manual near 'IDENTIFIED BY 'hunter2'' at line 1");
    expect(e.message).toBe('load_dump failed: ERROR 1064 (42000) at line 3: SQL syntax error; the statements before line 3 were loaded');
    expect(e.message).not.toContain('hunter2');
    expect(e.details).toMatchObject({ errno: 1064, sqlState: '42000', line: 3 });
    expect(loadFailure('mariadb: unknown option').message).toBe('load_dump: the mariadb client failed before loading anything');
  });
});

describe('names that go into a certificate', () => {
  const ok: Array<[string, string[]]> = [
    ['node-3', ['127.0.0.1', 'localhost']],
    ['cps-mysql manager API', ['10.1.2.3', '::1', 'db.example.org']],
  ];
  for (const [cn, hosts] of ok) it(`accepts ${cn}`, () => expect(() => checkCertificateNames(cn, hosts)).not.toThrow());
  const bad: Array<[string, string, string[]]> = [
    ['a second subject field', 'alice/O=evil', ['127.0.0.1']],
    ['a subject that claims to be the manager by a multi-valued RDN', 'alice+CN=manager', []],
    ['an extension smuggled in a host name', 'node-3', ['127.0.0.1\nbasicConstraints=CA:TRUE']],
    ['a second SAN entry', 'node-3', ['a.example,IP:10.0.0.1']],
    ['an empty name', '', []],
  ];
  for (const [what, cn, hosts] of bad) it(`refuses ${what}`, () => expect(() => checkCertificateNames(cn, hosts)).toThrow(/INVALID|may hold|not a host/));
});

describe('a peer pulls one snapshot, only while the manager lets it', () => {
  it('grants, uses up and revokes', () => {
    let now = 1000;
    const g = new PeerGrants(() => now);
    expect(g.allows('node-4')).toBe(false);
    expect(g.allows(null)).toBe(false);
    g.grant('node-4', 60);
    expect(g.allows('node-4')).toBe(true);
    expect(g.allows('node-5')).toBe(false);
    g.consume('node-4');
    expect(g.allows('node-4')).toBe(false);
    g.grant('node-4', 60);
    now += 60_000;
    expect(g.allows('node-4')).toBe(false);
    g.grant('node-5', 60);
    expect(g.revoke('node-5')).toBe(true);
    expect(g.revoke('node-5')).toBe(false);
    expect(g.allows('node-5')).toBe(false);
  });
});

describe('health checks read the server at most once a second, however many arrive', () => {
  function fakeEngine(): { engine: Engine; reads: () => number; setReadOnly: (v: boolean) => void } {
    let reads = 0;
    let readOnly = true;
    const engine = {
      process: () => ({ state: 'running', pid: 1, lastExit: null }),
      status: async (): Promise<EngineStatus> => {
        reads++;
        await new Promise((r) => setTimeout(r, 5));
        return { serverId: 1, readOnly, waitNoSlave: false, gtid: { binlogPos: '', slavePos: '', currentPos: '' }, replication: null };
      },
    } as unknown as Engine;
    return { engine, reads: () => reads, setReadOnly: (v) => (readOnly = v) };
  }

  it('shares one read among 300 checks at once, and reads again only when the answer is old or the agent changed the server', async () => {
    let now = 0;
    const f = fakeEngine();
    const view = new HealthView(f.engine, 1000, () => now);
    const looks = await Promise.all(Array.from({ length: 300 }, () => view.look()));
    expect(f.reads()).toBe(1);
    expect(looks.every((l) => l.readOnly === true)).toBe(true);
    now = 900;
    await view.look();
    expect(f.reads()).toBe(1);
    now = 1000;
    await view.look();
    expect(f.reads()).toBe(2);
    f.setReadOnly(false);
    view.invalidate();
    expect((await view.look()).readOnly).toBe(false);
    expect(f.reads()).toBe(3);
  });
});

describe('refused requests cannot grow the log', () => {
  it('writes one line a minute at most, saying how many it stands for', () => {
    const lines: unknown[] = [];
    const log = silentLogger();
    log.warn = ((o: unknown) => void lines.push(o)) as typeof log.warn;
    let now = 0;
    const r = new RefusalLog(log, 60_000, () => now);
    for (let i = 0; i < 1000; i++) r.refused({ code: 'UNAUTHORIZED', url: '/' });
    expect(lines).toHaveLength(1);
    now = 61_000;
    r.refused({ code: 'UNAUTHORIZED', url: '/' });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ refused: 1000, sinceSeconds: 61 });
  });
});

describe('addresses and directories', () => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.10.20.30', true],
    ['localhost', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['127.evil.example', false],
    ['127.0.0.1.nip.io', false],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
  ];
  for (const [host, loopback] of cases) {
    it(`${host} is ${loopback ? '' : 'not '}a loopback address`, () => expect(isLoopbackAddress(host)).toBe(loopback));
  }

  const scratch = mkdtempSync(join(tmpdir(), 'cps-trav-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('names the directory an unprivileged user cannot pass through', () => {
    const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
    const inner = join(scratch, 'a', 'b');
    writeFileSync(join(scratch, 'f'), '');
    rmSync(join(scratch, 'f'));
    chmodSync(scratch, 0o700);
    expect(() => assertTraversable(inner, nobody)).toThrow(new RegExp(`${scratch} \\(mode 700\\) is closed to it`));
    chmodSync(scratch, 0o711);
    expect(() => assertTraversable(scratch, nobody)).not.toThrow();
    expect(() => assertTraversable('/root/x', { name: 'root', uid: 0, gid: 0 })).not.toThrow();
  });

  it('rotates a log that grows past its size, keeping a few old ones', async () => {
    const file = join(scratch, 'm.log');
    const log = rotatingLog(file, { maxBytes: 100, keep: 2 });
    for (let round = 0; round < 4; round++) {
      await once(log.stream, 'ready');
      log.stream.write(`${'x'.repeat(150)} ${round}\n`);
      await new Promise<void>((resolve, reject) => log.stream.flush((err) => (err ? reject(err) : resolve())));
      log.check();
    }
    await once(log.stream, 'ready');
    log.stop();
    log.stream.end();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    expect(readFileSync(`${file}.1`, 'utf8')).toContain(' 3\n');
  });
});
