import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCa, issueCertificate, readPem, type Pem } from '../util/pki.js';
import type { NodeCredentials } from '../cloud/driver.js';

/** The manager's certificate name, which agents accept for every method. */
export const MANAGER_CN = 'manager';

/**
 * The manager's secrets under its data directory: the API token (`api-token`), the service's
 * CA and the certificates it issues (`pki/`). All files are its owner's only.
 */
export class ManagerCredentials {
  readonly token: string;
  /** The token's bytes, for the comparison of each request's bearer. */
  private readonly tokenBytes: Buffer;
  private readonly pkiDir: string;
  private ca: { key: string; cert: string } | null = null;
  /** The manager's own client certificate, for its calls to agents. */
  client: Pem | null = null;

  constructor(private readonly dataDir: string) {
    const tokenFile = join(dataDir, 'api-token');
    if (!existsSync(tokenFile)) {
      // Written aside, then renamed: a reader never sees the file empty or half written.
      const tmp = `${tokenFile}.tmp-${process.pid}`;
      writeFileSync(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
      renameSync(tmp, tokenFile);
    }
    this.token = readFileSync(tokenFile, 'utf8').trim();
    this.tokenBytes = Buffer.from(this.token, 'utf8');
    this.pkiDir = join(dataDir, 'pki');
  }

  /** Creates the CA and the manager's client certificate when missing. */
  async init(): Promise<void> {
    this.ca = await ensureCa(this.pkiDir, 'service');
    const dir = join(this.pkiDir, 'manager');
    const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'manager.crt'), key: join(dir, 'manager.key') };
    if (!existsSync(files.key)) await issueCertificate(this.ca, MANAGER_CN, ['localhost'], dir, 'manager');
    this.client = readPem(files);
  }

  /** The node's certificate (issued once, kept in `pki/nodes/<id>/`). */
  async forNode(id: string, hosts: readonly string[]): Promise<NodeCredentials> {
    if (!this.ca) throw new Error('credentials not initialised');
    const dir = join(this.pkiDir, 'nodes', id);
    const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'agent.crt'), key: join(dir, 'agent.key') };
    if (!existsSync(files.key)) await issueCertificate(this.ca, id, [...hosts, 'localhost'], dir, 'agent');
    return readPem(files);
  }

  /** A certificate for the manager's own API (`--tls`), for these host names and addresses. */
  async forApi(hosts: readonly string[]): Promise<Pem> {
    if (!this.ca) throw new Error('credentials not initialised');
    const dir = join(this.pkiDir, 'api');
    const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'api.crt'), key: join(dir, 'api.key') };
    if (!existsSync(files.key)) await issueCertificate(this.ca, 'cps-mysql manager API', [...hosts, '127.0.0.1', 'localhost'], dir, 'api');
    return readPem(files);
  }

  /**
   * Issues a user's client certificate, as ConPaaS's director did (role `user` and the user id in
   * the subject, x509.py): `CN=<name>, role=user, UID=<name>`, signed by the service CA. Writes
   * ConPaaS's file names, `cert.pem`, `key.pem` and `ca_cert.pem`, into `outDir` (mode 0600 for
   * the key). INVALID_PARAMS for a name openssl could misread (pki.ts).
   */
  async issueUserCertificate(name: string, outDir: string): Promise<{ cert: string; key: string; ca: string }> {
    if (!this.ca) throw new Error('credentials not initialised');
    const files = await issueCertificate(this.ca, name, ['localhost'], outDir, 'user', { role: 'user', UID: name });
    const out = { cert: join(outDir, 'cert.pem'), key: join(outDir, 'key.pem'), ca: join(outDir, 'ca_cert.pem') };
    renameSync(files.cert, out.cert);
    renameSync(files.key, out.key);
    renameSync(files.ca, out.ca);
    return out;
  }

  /** The service CA's key and certificate files (for signing a joining host's request). */
  caFiles(): { key: string; cert: string } {
    if (!this.ca) throw new Error('credentials not initialised');
    return this.ca;
  }

  /** The service CA's certificate (what clients' certificates are checked against). */
  caCertificate(): string {
    if (!this.ca) throw new Error('credentials not initialised');
    return readFileSync(this.ca.cert, 'utf8');
  }

  /**
   * A client certificate of the service CA that may call the API: ConPaaS's `user` and
   * `frontend` roles. Node and manager certificates (no role) may not.
   */
  static certificateAllowed(subject: Readonly<Record<string, string>> | null): boolean {
    return subject !== null && (subject['role'] === 'user' || subject['role'] === 'frontend');
  }

  /**
   * True when the `Authorization` header carries the API token (`Bearer …`), compared in
   * constant time. Only the length can differ in time, and it is no secret: every token is 32
   * random bytes in base64url (43 characters). No hash per request: it cost ~10 % of the
   * manager's CPU per read under load (bench item 5, issue #17).
   */
  checkBearer(header: string | string[] | undefined): boolean {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    const given = Buffer.from(header.slice(7).trim(), 'utf8');
    return given.length === this.tokenBytes.length && timingSafeEqual(given, this.tokenBytes);
  }
}
