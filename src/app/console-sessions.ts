import { createHash, randomBytes } from 'node:crypto';

/** The session cookie's name over plain HTTP (loopback). */
export const SESSION_COOKIE = 'cps_session';
/**
 * Its name over TLS: the `__Host-` prefix makes browsers take it only when Secure, for the whole
 * site and without a Domain, so no other host (or subdomain) can set or shadow it. Cookies are
 * not scoped by port: other services on the same host name receive it too (docs/console.md).
 */
export const SECURE_SESSION_COOKIE = '__Host-cps_session';
/** How long a console session lasts, ms (12 hours; a new login then). */
export const SESSION_TTL_MS = 12 * 3600_000;
/** Sessions kept at once; the oldest ends when one more begins. */
const MAX_SESSIONS = 1000;

const digest = (id: string): string => createHash('sha256').update(id).digest('hex');

/**
 * The web console's sessions, in the manager's memory (a restarted manager asks for the token
 * again). A session id is 256 random bits, given to the browser once in an HttpOnly cookie and
 * kept here only as its SHA-256. Pure of I/O; `now` is passed in (ms since the epoch).
 */
export class ConsoleSessions {
  private readonly expiry = new Map<string, number>();

  /** @param secure the API is served over TLS: the cookie is Secure and `__Host-` prefixed */
  constructor(readonly secure = false) {}

  /** The cookie's name: SECURE_SESSION_COOKIE over TLS, SESSION_COOKIE otherwise. */
  get cookieName(): string {
    return this.secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  }

  /** Begins a session; answers its id, for the cookie. */
  begin(now: number): string {
    const id = randomBytes(32).toString('base64url');
    this.expiry.set(digest(id), now + SESSION_TTL_MS);
    while (this.expiry.size > MAX_SESSIONS) this.expiry.delete(this.expiry.keys().next().value!);
    return id;
  }

  /** True when the request's Cookie header carries a live session. */
  live(cookieHeader: string | string[] | undefined, now: number): boolean {
    const id = cookieValue(cookieHeader, this.cookieName);
    if (id === null) return false;
    const key = digest(id);
    const until = this.expiry.get(key);
    if (until === undefined) return false;
    if (until <= now) {
      this.expiry.delete(key);
      return false;
    }
    return true;
  }

  /** Ends the session the Cookie header carries, if any. */
  end(cookieHeader: string | string[] | undefined): void {
    const id = cookieValue(cookieHeader, this.cookieName);
    if (id !== null) this.expiry.delete(digest(id));
  }
}

/**
 * The value of cookie `name` in a Cookie header (RFC 6265 §4.2: `a=1; b=2`), or null. Values are
 * taken as sent (session ids are base64url: nothing to decode).
 */
export function cookieValue(header: string | string[] | undefined, name: string): string | null {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return null;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The Set-Cookie header of a session: HttpOnly, SameSite=Strict, Secure over TLS, for the whole site. */
export function sessionCookie(id: string, secure: boolean): string {
  return `${secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie header that removes the session cookie. */
export function clearedCookie(secure: boolean): string {
  return `${secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
