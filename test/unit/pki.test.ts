import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa, issueCertificate } from '../../src/util/pki.js';

/**
 * The service CA and the certificates it issues, read back with Node's X509Certificate: what
 * TLS on both ends relies on (a CA that may sign, leaves that may not, names and usages), made
 * by real `openssl`.
 */
describe('the service CA (pki.ts)', () => {
  let dir: string;
  let ca: { key: string; cert: string };
  let caCert: X509Certificate;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cps-pki-'));
    ca = await ensureCa(join(dir, 'ca'), 'test');
    caCert = new X509Certificate(readFileSync(ca.cert));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a self-signed CA certificate that may sign, its key readable by its owner only', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.subject).toMatch(/^CN=cps-mysql CA test [0-9a-f]{12}$/);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(ca.key).mode & 0o777).toBe(0o600);
  });

  it('keeps an existing CA: a second call changes nothing', async () => {
    const again = await ensureCa(join(dir, 'ca'), 'test');
    expect(again).toEqual(ca);
    expect(readFileSync(ca.cert, 'utf8')).toBe(caCert.toString());
  });

  it("issues a node certificate signed by the CA, for TLS servers and clients, on the node's addresses", async () => {
    const files = await issueCertificate(ca, 'node-3', ['127.0.0.1', 'localhost', '127.0.0.1'], join(dir, 'node-3'), 'agent');
    const cert = new X509Certificate(readFileSync(files.cert));
    expect(cert.subject).toBe('CN=node-3');
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(files.key)))).toBe(true);
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(readFileSync(files.ca, 'utf8')).toBe(readFileSync(ca.cert, 'utf8'));
    // Valid about 825 days from now.
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(824);
    expect(days).toBeLessThan(826);
  });

  it('puts extra subject attributes after the common name (a user certificate: role, UID)', async () => {
    const files = await issueCertificate(ca, 'alice', ['localhost'], join(dir, 'alice'), 'user', { role: 'user', UID: 'alice' });
    const cert = new X509Certificate(readFileSync(files.cert));
    expect(cert.subject.split('\n')).toEqual(['CN=alice', 'role=user', 'UID=alice']);
    expect(cert.checkIssued(caCert)).toBe(true);
  });

  it('gives every certificate its own serial and key', async () => {
    const a = new X509Certificate(readFileSync((await issueCertificate(ca, 'node-4', ['127.0.0.1'], join(dir, 'a'), 'agent')).cert));
    const b = new X509Certificate(readFileSync((await issueCertificate(ca, 'node-4', ['127.0.0.1'], join(dir, 'b'), 'agent')).cert));
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.publicKey.export({ type: 'spki', format: 'pem' })).not.toBe(b.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('refuses a name openssl could misread, before running it (INVALID_PARAMS, nothing written)', async () => {
    await expect(issueCertificate(ca, 'node-5/CN=manager', ['127.0.0.1'], join(dir, 'bad'), 'agent')).rejects.toThrow(/INVALID_PARAMS|may hold/);
    expect(() => statSync(join(dir, 'bad'))).toThrow();
  });
});
