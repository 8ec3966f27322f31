/** Small helpers that make the decisions' sentences read as English. */

/** `a`, `a and b`, `a, b and c`. */
export function list(ids: readonly string[]): string {
  if (ids.length <= 1) return ids.join('');
  return `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

/** `is` for one, `are` for more. */
export function isAre(ids: readonly string[]): string {
  return ids.length > 1 ? 'are' : 'is';
}

/** `it` for one, `them` for more. */
export function them(ids: readonly string[]): string {
  return ids.length > 1 ? 'them' : 'it';
}

/** `1 replica`, `2 replicas`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
