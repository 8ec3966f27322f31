/**
 * MariaDB GTID positions (`domain-server-seq`, comma-separated per domain), compared without
 * I/O. A position is "ahead" of another when, in some domain, its sequence number is higher.
 */
export function seqByDomain(pos: string | null): Map<number, number> {
  const out = new Map<number, number>();
  for (const item of (pos ?? '').split(',')) {
    const m = /^\s*([0-9]+)-([0-9]+)-([0-9]+)\s*$/.exec(item);
    if (m) out.set(Number(m[1]), Math.max(out.get(Number(m[1])) ?? 0, Number(m[3])));
  }
  return out;
}

/** Compares two positions by their sequence numbers, domain by domain: >0 when `a` is ahead. */
export function compareGtid(a: string | null, b: string | null): number {
  const da = seqByDomain(a);
  const db = seqByDomain(b);
  let sum = 0;
  for (const d of new Set([...da.keys(), ...db.keys()])) sum += (da.get(d) ?? 0) - (db.get(d) ?? 0);
  return sum;
}
