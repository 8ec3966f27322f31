import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { HostStore } from '../store/host-store.js';
import { AppError } from '../util/errors.js';
import { signRequest } from '../util/pki.js';
import { VERSION } from '../version.js';

/** How long a join token lives unless the call says otherwise (seconds). */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

/** The shape of a join token: `ID.SECRET`, ID 8 hex digits, SECRET 32 (128 bits). */
const TOKEN = /^([0-9a-f]{8})\.([0-9a-f]{32})$/;

/** What a joining host sends (POST /join): its token, its certificate request and where it serves. */
export const joinRequest = z
  .object({
    token: z.string().min(1).max(100),
    csr: z.string().min(1).max(16_384),
    address: z.string().refine((a) => isIP(a) !== 0, { message: 'must be an IP address' }),
    agentPort: z.number().int().min(1).max(65535),
    mysqlPort: z.number().int().min(1).max(65535),
    healthPort: z.number().int().min(1).max(65535),
    version: z.string().min(1).max(64),
  })
  .strict();

/** A join request, checked. */
export type JoinRequest = z.infer<typeof joinRequest>;

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * Mints a one-time join token: `ID.SECRET` (a 128-bit secret, stored only as its SHA-256),
 * valid for `ttlSeconds`, bound to `address` when given. Returns the token (shown once) and
 * when it expires (ISO time).
 */
export function mintJoinToken(hosts: HostStore, now: number, ttlSeconds: number, address: string | null): { token: string; expiresAt: string } {
  const id = randomBytes(4).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const expiresAt = new Date(now + ttlSeconds * 1000).toISOString();
  hosts.addToken({ id, secretHash: hash(secret), address, expiresAt, usedAt: null }, new Date(now).toISOString());
  return { token: `${id}.${secret}`, expiresAt };
}

/**
 * Checks a join request's token against the store, without using it: UNAUTHORIZED for a token
 * that is malformed, unknown, wrong, expired or used; FORBIDDEN for one bound to another address;
 * WRONG_STATE for an address that joined already. Each message says which.
 */
export function checkJoinToken(hosts: HostStore, token: string, address: string, now: number): string {
  const m = TOKEN.exec(token);
  if (!m) throw new AppError('UNAUTHORIZED', 'join: not a join token (ID.SECRET, as `cps-mysql join-token` prints it)');
  const rec = hosts.token(m[1]!);
  if (!rec) throw new AppError('UNAUTHORIZED', 'join: unknown join token');
  if (!timingSafeEqual(Buffer.from(rec.secretHash, 'hex'), Buffer.from(hash(m[2]!), 'hex'))) throw new AppError('UNAUTHORIZED', 'join: wrong join token');
  if (rec.usedAt !== null) throw new AppError('UNAUTHORIZED', `join: this join token was used already (${rec.usedAt}); mint another with cps-mysql join-token`);
  if (Date.parse(rec.expiresAt) <= now) throw new AppError('UNAUTHORIZED', `join: this join token expired at ${rec.expiresAt}; mint another with cps-mysql join-token`);
  if (rec.address !== null && rec.address !== address) throw new AppError('FORBIDDEN', `join: this join token is for the host ${rec.address}, not ${address}`);
  if (hosts.host(address)) throw new AppError('WRONG_STATE', `join: the host ${address} joined already; remove_host it first to join it again`);
  return rec.id;
}

/**
 * A host joins: its token is checked (checkJoinToken), its certificate request signed for its
 * address (INVALID_PARAMS for a malformed request or one for another name), the token used
 * (once, even under concurrent requests), and the host recorded as free. Returns its certificate
 * and the CA's. Nothing is issued or recorded when a check fails.
 */
export async function joinHost(deps: { hosts: HostStore; ca: { key: string; cert: string; pem: string }; workDir: string; now: () => number }, req: JoinRequest): Promise<{ cert: string; ca: string }> {
  const { hosts } = deps;
  const id = checkJoinToken(hosts, req.token, req.address, deps.now());
  const signed = await signRequest(deps.ca, req.csr, req.address, [req.address], deps.workDir);
  const at = new Date(deps.now()).toISOString();
  hosts.atomically(() => {
    if (!hosts.useToken(id, at)) throw new AppError('UNAUTHORIZED', 'join: this join token was used already');
    if (hosts.host(req.address)) throw new AppError('WRONG_STATE', `join: the host ${req.address} joined already`);
    hosts.insertHost({ address: req.address, agentPort: req.agentPort, mysqlPort: req.mysqlPort, healthPort: req.healthPort, certSerial: signed.serial, nodeId: null, agentVersion: req.version || VERSION, joinedAt: at, lastSeen: at });
  });
  return { cert: signed.cert, ca: deps.ca.pem };
}
