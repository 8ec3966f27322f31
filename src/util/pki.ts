import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { run } from './proc.js';
import { which } from './which.js';
import { AppError } from './errors.js';

/**
 * A small certificate authority per service, made with Debian's `openssl`: the manager creates
 * it on first start and issues a certificate to itself and to every node. Keys are files of
 * mode 0600 and never appear in process arguments (openssl reads and writes them by path).
 */
export interface CertificateFiles {
  /** The CA's certificate. */
  ca: string;
  /** The certificate. */
  cert: string;
  /** Its private key (mode 0600). */
  key: string;
}

/** The same, as PEM texts. */
export interface Pem {
  /** The CA's certificate. */
  ca: string;
  /** The certificate. */
  cert: string;
  /** Its private key. */
  key: string;
}

const openssl = (): string => which('openssl');

/** Reads the three files. Throws the file system's error for one missing. */
export function readPem(files: CertificateFiles): Pem {
  return { ca: readFileSync(files.ca, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
}

const COMMON_NAME = /^[A-Za-z0-9_. -]{1,64}$/;
const HOST_NAME = /^[A-Za-z0-9.-]{1,253}$/;

/**
 * Throws INVALID_PARAMS unless a certificate's names are plain: a common name goes into
 * openssl's `-subj` argument and host names into its extension file, where `/`, `=`, `,` or a
 * line break would add fields or extensions of the caller's choosing.
 */
export function checkCertificateNames(commonName: string, hosts: readonly string[]): void {
  if (!COMMON_NAME.test(commonName)) throw new AppError('INVALID_PARAMS', `a certificate name may hold letters, digits, space, _ . and - only (1 to 64): ${JSON.stringify(commonName.slice(0, 80))}`);
  for (const h of hosts) {
    if (!isIP(h) && !HOST_NAME.test(h)) throw new AppError('INVALID_PARAMS', `not a host name or an IP address: ${JSON.stringify(h.slice(0, 80))}`);
  }
}

/** Creates the CA in `dir` (ca.key, ca.crt) unless it exists. */
export async function ensureCa(dir: string, name: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'ca.key');
  const cert = join(dir, 'ca.crt');
  if (existsSync(key) && existsSync(cert)) return { key, cert };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const subject = `/CN=cps-mysql CA ${name} ${randomBytes(6).toString('hex')}`;
  await run(openssl(), [...newKeyAndCertificate(key, cert, subject), '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await chmod(key, 0o600);
  return { key, cert };
}

/**
 * `openssl req` arguments that make a new P-256 key (written unencrypted to `key`) and a
 * certificate for it (to `cert`) in one run. `-config /dev/null`: none of the system
 * openssl.cnf's defaults (Debian's adds `CA:TRUE` to every `-x509` certificate) gets in; each
 * extension is named by the caller with `-addext`. One process instead of three
 * (`ecparam`, `req`, `x509`) per certificate: a node's certificate is made before its agent
 * starts, on the path of every new node (`req -CA` needs OpenSSL 3.0; Debian 12 has 3.0).
 */
function newKeyAndCertificate(key: string, cert: string, subject: string): string[] {
  return ['req', '-x509', '-config', '/dev/null', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-keyout', key, '-out', cert, '-subj', subject, '-sha256'];
}

/** Days a node's, a host's or a user's certificate is valid. */
const LEAF_DAYS = '825';

/**
 * The X.509v3 extensions of every certificate the CA issues but its own (`key=value` lines, as
 * `openssl -addext` and an `-extfile` take them): not a CA, for TLS servers and clients, valid
 * for `hosts` (addresses as IP entries, names as DNS entries, each once).
 */
function leafExtensions(hosts: readonly string[]): string[] {
  const sans = [...new Set(hosts)].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  return ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=${sans}`];
}

/**
 * Issues a certificate for `commonName` (a node id, or `manager`), good for TLS servers and
 * clients, valid for the given host names and addresses, with `extraSubject`'s attributes after
 * the common name (ConPaaS's `role` and `UID`). Writes `<name>.key` and `<name>.crt` in
 * `outDir` and copies the CA certificate there as `ca.crt`. INVALID_PARAMS for names openssl
 * could misread.
 */
export async function issueCertificate(
  ca: { key: string; cert: string },
  commonName: string,
  hosts: readonly string[],
  outDir: string,
  name: string,
  extraSubject: Readonly<Record<string, string>> = {},
): Promise<CertificateFiles> {
  checkCertificateNames(commonName, hosts);
  for (const [k, v] of Object.entries(extraSubject)) {
    if (!/^[A-Za-z]{1,16}$/.test(k)) throw new AppError('INVALID_PARAMS', `not a certificate subject attribute: ${JSON.stringify(k.slice(0, 20))}`);
    checkCertificateNames(v, []);
  }
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const key = join(outDir, `${name}.key`);
  const cert = join(outDir, `${name}.crt`);
  const extra = Object.entries(extraSubject).map(([k, v]) => `/${k}=${v}`).join('');
  await run(openssl(), [
    ...newKeyAndCertificate(key, cert, `/CN=${commonName}${extra}`),
    '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', LEAF_DAYS,
    ...leafExtensions(hosts).flatMap((e) => ['-addext', e]),
  ]);
  await chmod(key, 0o600);
  const caCopy = join(outDir, 'ca.crt');
  await writeFile(caCopy, readFileSync(ca.cert, 'utf8'), { mode: 0o644 });
  return { ca: caCopy, cert, key };
}

/** `sha256:<hex>` of a certificate's SubjectPublicKeyInfo: how a joining host pins the service CA (kubeadm's `--discovery-token-ca-cert-hash` form). */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/**
 * Signs a host's certificate request with the CA: checks that the request is well formed, signed
 * by its own key, and names exactly `commonName` (INVALID_PARAMS otherwise, naming what is
 * wrong), then issues a certificate for `commonName` and `hosts`, good for TLS servers and
 * clients. The private key never leaves the host: only its request comes here. Returns the
 * certificate (PEM) and its serial (hex, upper case).
 */
export async function signRequest(ca: { key: string; cert: string }, csrPem: string, commonName: string, hosts: readonly string[], workDir: string): Promise<{ cert: string; serial: string }> {
  checkCertificateNames(commonName, hosts);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const tag = randomBytes(8).toString('hex');
  const csr = join(workDir, `${tag}.csr`);
  const ext = join(workDir, `${tag}.ext`);
  const cert = join(workDir, `${tag}.crt`);
  try {
    await writeFile(csr, csrPem, { mode: 0o600 });
    let subject: string;
    try {
      subject = (await run(openssl(), ['req', '-in', csr, '-noout', '-verify', '-subject', '-nameopt', 'RFC2253'])).stdout.trim();
    } catch {
      throw new AppError('INVALID_PARAMS', 'csr: not a certificate request signed by its own key (PEM, PKCS#10)');
    }
    if (subject !== `subject=CN=${commonName}`) throw new AppError('INVALID_PARAMS', `csr: the request names ${JSON.stringify(subject.replace(/^subject=/, '').slice(0, 100))}; it must name exactly CN=${commonName}, the host's address`);
    await writeFile(ext, `${leafExtensions(hosts).join('\n')}\n`, { mode: 0o600 });
    const serial = randomBytes(16).toString('hex').toUpperCase().replace(/^0+/, '');
    await run(openssl(), ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial}`, '-days', LEAF_DAYS, '-sha256', '-extfile', ext, '-out', cert]);
    return { cert: readFileSync(cert, 'utf8'), serial: new X509Certificate(readFileSync(cert, 'utf8')).serialNumber.toUpperCase() };
  } finally {
    for (const f of [csr, ext, cert]) await rm(f, { force: true });
  }
}
