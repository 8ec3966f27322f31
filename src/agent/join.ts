import { X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { request } from 'node:https';
import { AppError, messageOf } from '../util/errors.js';
import { run } from '../util/proc.js';
import { spkiHash } from '../util/pki.js';
import { which } from '../util/which.js';
import { VERSION } from '../version.js';

/** Where a joined host keeps its identity: `<dir>/tls/` (agent.key, agent.crt, ca.crt) and `<dir>/join.json`. */
export function tlsDirOf(dir: string): string {
  return join(dir, 'tls');
}

/** What a joining host says of itself: its address and the ports it serves on. */
export interface JoinTarget {
  /** The manager's API URL (`https://M:P`). */
  manager: string;
  /** The one-time token (`ID.SECRET`). */
  token: string;
  /** The service CA's pin, `sha256:<hex of its SubjectPublicKeyInfo>`. */
  caHash: string;
  /** The node directory. */
  dir: string;
  /** The host's address: its agent and mariadbd serve there; its certificate names it. */
  address: string;
  /** The agent's port. */
  agentPort: number;
  /** mariadbd's port. */
  mysqlPort: number;
  /** The health checks' port. */
  healthPort: number;
}

/** The address of this host on the route to `ip` (a UDP socket's local address after connect: nothing is sent). */
export async function addressTowards(ip: string): Promise<string> {
  const sock = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(9, ip, () => resolve());
    });
    return sock.address().address;
  } finally {
    sock.close();
  }
}

function pem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

/**
 * The service CA, taken from the manager's TLS chain only if its key is the one pinned: the
 * chain's certificates are read without trusting them, the one whose SubjectPublicKeyInfo hashes
 * to `caHash` must have signed the manager's certificate, which must name the manager's address.
 * Throws FORBIDDEN (nothing is sent to this manager) otherwise.
 */
export async function pinnedCa(manager: URL, caHash: string): Promise<string> {
  const port = Number(manager.port || 443);
  const chain: PeerCertificate[] = await new Promise((resolve, reject) => {
    const s = connect({ host: manager.hostname, port, rejectUnauthorized: false, ...(isIP(manager.hostname) ? {} : { servername: manager.hostname }) }, () => {
      const all: PeerCertificate[] = [];
      let c = s.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
      while (c && c.raw && !all.some((x) => x.raw.equals(c.raw))) {
        all.push(c);
        c = (c as { issuerCertificate?: PeerCertificate }).issuerCertificate as typeof c;
      }
      s.end();
      resolve(all);
    });
    s.once('error', (err) => reject(new AppError('PEER_FAILED', `cannot reach the manager at ${manager.host}: ${err.message}`)));
  });
  const leaf = chain[0];
  if (!leaf) throw new AppError('FORBIDDEN', 'the manager presented no certificate');
  const ca = chain.map((c) => c.raw).find((raw) => spkiHash(pem(raw)) === caHash);
  if (!ca) throw new AppError('FORBIDDEN', `the manager at ${manager.host} is not the one whose CA is ${caHash}: refusing to send it the token`);
  const leafX = new X509Certificate(leaf.raw);
  if (!leafX.verify(new X509Certificate(ca).publicKey)) throw new AppError('FORBIDDEN', `the manager's certificate is not signed by the pinned CA: refusing to send it the token`);
  const named = isIP(manager.hostname) ? leafX.checkIP(manager.hostname) : leafX.checkHost(manager.hostname);
  if (!named) throw new AppError('FORBIDDEN', `the manager's certificate does not name ${manager.hostname}: refusing to send it the token`);
  return pem(ca);
}

/** POSTs JSON to the manager over TLS trusting only `ca`; answers the envelope's result, or throws its error (with its code). */
async function postJson(url: URL, ca: string, body: unknown): Promise<unknown> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: Number(url.port || 443), path: url.pathname, method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': String(data.length) }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: unknown; error?: string | null; code?: string };
          if (j.error) reject(new AppError((j.code as never) ?? 'PEER_FAILED', j.error));
          else resolve(j.result);
        } catch (err) {
          reject(new AppError('PEER_FAILED', `the manager answered ${res.statusCode}: ${messageOf(err)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', (err) => reject(new AppError('PEER_FAILED', `join: ${err.message}`)));
    req.end(data);
  });
}

/**
 * Joins this host to a manager, once: makes its private key here (it never leaves the host), pins
 * the manager's CA, sends a certificate request with the one-time token, and keeps the
 * certificate it gets in `<dir>/tls/`. A host that joined already (its certificate is there) does
 * nothing: it resumes with its identity. Throws with the manager's error code when it refuses
 * (token expired, used, unknown, for another address; a host that joined already).
 */
export async function joinManager(t: JoinTarget): Promise<{ joined: boolean }> {
  const tls = tlsDirOf(t.dir);
  if (existsSync(join(tls, 'agent.crt'))) return { joined: false };
  mkdirSync(tls, { recursive: true, mode: 0o700 });
  const url = new URL(t.manager);
  if (url.protocol !== 'https:') throw new AppError('INVALID_PARAMS', `--manager must be an https:// URL (the manager of the static cloud serves over TLS), not ${t.manager.slice(0, 80)}`);
  const ca = await pinnedCa(url, t.caHash);
  const key = join(tls, 'agent.key');
  const csr = join(tls, 'agent.csr');
  const openssl = which('openssl');
  await run(openssl, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  chmodSync(key, 0o600);
  await run(openssl, ['req', '-new', '-key', key, '-subj', `/CN=${t.address}`, '-out', csr]);
  const answer = (await postJson(new URL('/join', url), ca, {
    token: t.token,
    csr: readFileSync(csr, 'utf8'),
    address: t.address,
    agentPort: t.agentPort,
    mysqlPort: t.mysqlPort,
    healthPort: t.healthPort,
    version: VERSION,
  })) as { cert: string; ca: string };
  writeFileSync(join(tls, 'ca.crt'), answer.ca, { mode: 0o644 });
  writeFileSync(join(tls, 'agent.crt'), answer.cert, { mode: 0o644 });
  writeFileSync(join(t.dir, 'join.json'), `${JSON.stringify({ manager: t.manager, address: t.address, agentPort: t.agentPort, mysqlPort: t.mysqlPort, healthPort: t.healthPort }, null, 2)}\n`, { mode: 0o600 });
  return { joined: true };
}
