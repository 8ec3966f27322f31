/**
 * Pure formatting for the console: ages, durations, sizes, rates and the client command. No DOM,
 * no clock of their own (`now` is passed in), so each is table-tested (test/unit/ui-format.test.ts).
 */

/** Milliseconds as a short duration: `850 ms`, `12 s`, `3 min 5 s`, `2 h 4 min`, `3 d 1 h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** How long ago an ISO time was, from `now` (ms since the epoch): `4 s ago`; `—` for null or an unreadable time. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  return `${duration(Math.max(0, now - t))} ago`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units with three significant digits: `512 B`, `1.50 KiB`, `23.4 GiB`; `—` when unknown. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${v} B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`;
}

/** A per-second rate: `0`, `0.25/s`, `12.5/s`, `1,240/s`. */
export function rate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  if (perSecond === 0) return '0';
  if (perSecond < 10) return `${perSecond.toFixed(2)}/s`;
  if (perSecond < 100) return `${perSecond.toFixed(1)}/s`;
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

/**
 * The command a person types to reach `endpoint` (`host:port`) as `user`: the password is asked
 * for by the client (`-p`), never written in the command.
 */
export function connectCommand(endpoint: string | null, user: string): string | null {
  if (!endpoint) return null;
  const at = endpoint.lastIndexOf(':');
  if (at <= 0) return null;
  return `mariadb -h ${endpoint.slice(0, at)} -P ${endpoint.slice(at + 1)} -u ${user} -p`;
}

/** The share in use, 0..1, of what is used plus what is free; null when unknown or nothing. */
export function diskShare(usedBytes: number | null | undefined, freeBytes: number | null | undefined): number | null {
  if (usedBytes === null || usedBytes === undefined || freeBytes === null || freeBytes === undefined) return null;
  const total = usedBytes + freeBytes;
  return total > 0 ? usedBytes / total : null;
}

/** Checks a new password typed twice; answers the sentence to show, or null when it may be sent. */
export function passwordProblem(password: string, again: string): string | null {
  if (password.length < 8) return 'the password needs at least 8 characters';
  if (password.length > 512) return 'the password may have at most 512 characters';
  if (password !== again) return 'the two passwords differ';
  return null;
}
