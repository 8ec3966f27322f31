/**
 * MariaDB GTID positions as a value type (after mariadb-operator's pkg/replication/gtid.go):
 * parsed once where they enter the manager (the agents' answers), compared domain by domain,
 * written back as MariaDB writes them. Plain data (arrays of numbers), so a snapshot that holds
 * them can be copied and compared like any other.
 *
 * A position names, for each replication domain, the last transaction: `domain-server-seq`
 * (`0-1-42`), comma-separated. Within a domain sequence numbers only grow (gtid_strict_mode),
 * so two positions are ordered by them, domain by domain. A position alone cannot show that two
 * histories parted (an errant transaction): that takes the binary logs' states.
 */

/** One global transaction id. */
export interface Gtid {
  /** The replication domain (`gtid_domain_id`). */
  readonly domain: number;
  /** The server_id of the server that wrote it. */
  readonly server: number;
  /** Its sequence number within the domain. */
  readonly seq: number;
}

/** A GTID position: at most one GTID per domain, ordered by domain. */
export type GtidPosition = readonly Gtid[];

/** How two positions stand: `incomparable` when one is ahead in a domain and behind in another. */
export type GtidOrder = 'equal' | 'ahead' | 'behind' | 'incomparable';

const ITEM = /^([0-9]{1,10})-([0-9]{1,10})-([0-9]{1,20})$/;

/**
 * Parses a position as MariaDB writes it (`0-1-42,1-2-7`; '' is the empty position). Returns null
 * for text that is not one, or names a domain twice.
 */
export function parseGtidPosition(text: string): GtidPosition | null {
  const trimmed = text.replace(/\s+/g, '');
  if (trimmed === '') return [];
  const out: Gtid[] = [];
  for (const item of trimmed.split(',')) {
    const m = ITEM.exec(item);
    if (!m) return null;
    const g = { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) };
    if (out.some((x) => x.domain === g.domain)) return null;
    out.push(g);
  }
  return out.sort((a, b) => a.domain - b.domain);
}

/** A position as MariaDB writes it. */
export function formatGtidPosition(p: GtidPosition): string {
  return p.map((g) => `${g.domain}-${g.server}-${g.seq}`).join(',');
}

/**
 * Compares `a` with `b` domain by domain. `a` is ahead when it is ahead or equal in every domain
 * and ahead in one (a domain missing counts as nothing written there); behind, the other way round.
 */
export function compareGtidPositions(a: GtidPosition, b: GtidPosition): GtidOrder {
  let ahead = false;
  let behind = false;
  const domains = new Set([...a.map((g) => g.domain), ...b.map((g) => g.domain)]);
  for (const d of domains) {
    const sx = a.find((g) => g.domain === d)?.seq ?? 0;
    const sy = b.find((g) => g.domain === d)?.seq ?? 0;
    if (sx > sy) ahead = true;
    else if (sx < sy) behind = true;
  }
  if (ahead && behind) return 'incomparable';
  return ahead ? 'ahead' : behind ? 'behind' : 'equal';
}

/** True when `a` holds everything `b` does: equal or ahead. */
export function gtidContains(a: GtidPosition, b: GtidPosition): boolean {
  const o = compareGtidPositions(a, b);
  return o === 'equal' || o === 'ahead';
}

/**
 * Compares two positions in text (null or '' is empty): > 0 when `a` is ahead, < 0 when it is
 * behind, 0 when equal, NaN when they cannot be ordered (or one is not a position). Kept for
 * callers that sort; `compareGtidPositions` tells the incomparable case by name.
 */
export function compareGtid(a: string | null, b: string | null): number {
  const pa = parseGtidPosition(a ?? '');
  const pb = parseGtidPosition(b ?? '');
  if (!pa || !pb) return Number.NaN;
  switch (compareGtidPositions(pa, pb)) {
    case 'ahead':
      return 1;
    case 'behind':
      return -1;
    case 'equal':
      return 0;
    case 'incomparable':
      return Number.NaN;
  }
}

/** Per domain, the later of two positions (the one with the higher sequence number). */
export function laterOf(a: GtidPosition, b: GtidPosition): GtidPosition {
  const out = new Map<number, Gtid>();
  for (const g of [...a, ...b]) {
    const cur = out.get(g.domain);
    if (!cur || g.seq > cur.seq) out.set(g.domain, g);
  }
  return [...out.values()].sort((x, y) => x.domain - y.domain);
}
