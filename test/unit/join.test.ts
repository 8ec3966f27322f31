import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJoinToken, joinHost, mintJoinToken } from '../../src/manager/join.js';
import type { HostStore } from '../../src/store/host-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { ensureCa, spkiHash } from '../../src/util/pki.js';
import { isAppError } from '../../src/util/errors.js';

/** Joining hosts: one-time tokens and certificate requests, each refusal with its reason and nothing issued (issue #14). */
describe('joining the static cloud', () => {
  let dir: string;
  let store: SqliteStore;
  let hosts: HostStore;
  let ca: { key: string; cert: string; pem: string };
  const NOW = Date.parse('2026-11-29T12:00:00Z');

  const csrFor = (cn: string): string => {
    const key = join(dir, `${cn}-${Math.random()}.key`);
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${cn}`], { encoding: 'utf8' });
  };
  const request = (token: string, address: string, csr = csrFor(address)) => ({ token, csr, address, agentPort: 9300, mysqlPort: 3306, healthPort: 9302, version: 'test' });
  const deps = () => ({ hosts, ca, workDir: join(dir, 'work'), now: () => NOW });
  const refusal = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
    try {
      await p;
    } catch (e) {
      if (isAppError(e)) return { code: e.code, message: e.message };
      throw e;
    }
    throw new Error('accepted');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cps-join-'));
    store = new SqliteStore(join(dir, 'state.db'));
    hosts = store.hostStore;
    const files = await ensureCa(join(dir, 'pki'), 'test');
    ca = { ...files, pem: readFileSync(files.cert, 'utf8') };
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a token joins one host once: its certificate names its address and comes from the service CA; the host is free', async () => {
    const { token, expiresAt } = mintJoinToken(hosts, NOW, 3600, null);
    expect(token).toMatch(/^[0-9a-f]{8}\.[0-9a-f]{32}$/);
    expect(expiresAt).toBe('2026-11-29T13:00:00.000Z');
    // Only a hash of the secret is kept.
    expect(JSON.stringify(hosts.token(token.split('.')[0]!))).not.toContain(token.split('.')[1]!);
    const r = await joinHost(deps(), request(token, '10.213.0.11'));
    expect(r.ca).toBe(ca.pem);
    const out = execFileSync('openssl', ['x509', '-noout', '-subject', '-ext', 'subjectAltName', '-nameopt', 'RFC2253'], { input: r.cert, encoding: 'utf8' });
    expect(out).toContain('subject=CN=10.213.0.11');
    expect(out).toContain('IP Address:10.213.0.11');
    // The same extensions as a node's certificate made by the manager (pki.test.ts): not a CA, TLS server and client.
    const leaf = new X509Certificate(r.cert);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    execFileSync('openssl', ['verify', '-CAfile', ca.cert], { input: r.cert });
    expect(hosts.host('10.213.0.11')).toMatchObject({ address: '10.213.0.11', nodeId: null, agentPort: 9300 });
    expect(await refusal(joinHost(deps(), request(token, '10.213.0.12')))).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/used already/) });
    expect(hosts.host('10.213.0.12')).toBeNull();
  });

  it('refuses, each with its reason, and issues or records nothing: expired, unknown, wrong secret, malformed, bound to another address, a host joining twice', async () => {
    const expired = mintJoinToken(hosts, NOW - 7200_000, 3600, null).token;
    const bound = mintJoinToken(hosts, NOW, 3600, '10.213.0.21').token;
    const good = mintJoinToken(hosts, NOW, 3600, null).token;
    const cases: Array<[string, ReturnType<typeof request>, string, RegExp]> = [
      ['expired', request(expired, '10.213.0.20'), 'UNAUTHORIZED', /expired at 2026-11-29T11:00:00.000Z/],
      ['unknown', request('0badc0de.00000000000000000000000000000000', '10.213.0.20'), 'UNAUTHORIZED', /unknown join token/],
      ['wrong secret', request(`${good.split('.')[0]}.ffffffffffffffffffffffffffffffff`, '10.213.0.20'), 'UNAUTHORIZED', /wrong join token/],
      ['malformed', request('not-a-token', '10.213.0.20'), 'UNAUTHORIZED', /not a join token/],
      ['bound to another address', request(bound, '10.213.0.22'), 'FORBIDDEN', /for the host 10.213.0.21, not 10.213.0.22/],
      ['a host joining twice', request(good, '10.213.0.11'), 'WRONG_STATE', /joined already/],
      ['a request for another name', { ...request(good, '10.213.0.23'), csr: csrFor('10.213.0.99') }, 'INVALID_PARAMS', /must name exactly CN=10.213.0.23/],
      ['a malformed request', { ...request(good, '10.213.0.23'), csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }, 'INVALID_PARAMS', /not a certificate request/],
    ];
    for (const [what, req, code, message] of cases) {
      const r = await refusal(joinHost(deps(), req));
      expect(r.code, what).toBe(code);
      expect(r.message, what).toMatch(message);
    }
    expect(hosts.hosts().map((h) => h.address)).toEqual(['10.213.0.11']);
    // The good token was not spent by the refused attempts; the bound one works from its host.
    expect((await joinHost(deps(), request(good, '10.213.0.23'))).cert).toContain('BEGIN CERTIFICATE');
    expect((await joinHost(deps(), request(bound, '10.213.0.21'))).cert).toContain('BEGIN CERTIFICATE');
  });

  it('a removed host: gone from the pool, its certificate serial on the deny list', () => {
    const h = hosts.host('10.213.0.23')!;
    hosts.removeHost('10.213.0.23', new Date(NOW).toISOString());
    expect(hosts.host('10.213.0.23')).toBeNull();
    expect(hosts.deniedSerials()).toContain(h.certSerial);
  });

  it('the pool: a node takes a free host (the same again when asked twice), gives it back, and none is left for a third', () => {
    expect(hosts.claimHost('node-1')?.address).toBe('10.213.0.11');
    expect(hosts.claimHost('node-1')?.address).toBe('10.213.0.11');
    expect(hosts.claimHost('node-2')?.address).toBe('10.213.0.21');
    expect(hosts.claimHost('node-3')).toBeNull();
    hosts.releaseHost('node-2');
    expect(hosts.claimHost('node-3')?.address).toBe('10.213.0.21');
  });

  it("the CA pin is the SHA-256 of the CA's SubjectPublicKeyInfo, as openssl computes it", () => {
    const der = execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: ca.pem });
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: der });
    const hex = execFileSync('openssl', ['dgst', '-sha256', '-hex'], { input: spki, encoding: 'utf8' }).trim().split('= ')[1];
    expect(spkiHash(ca.pem)).toBe(`sha256:${hex}`);
    expect(() => checkJoinToken(hosts, 'x', '10.0.0.1', NOW)).toThrow(/not a join token/);
  });
});
