/** Small statistics over the runs of one figure. NaN marks a run that produced no value. */

export function valid(xs: readonly number[]): number[] {
  return xs.filter((x) => Number.isFinite(x));
}

export function median(xs: readonly number[]): number {
  const v = valid(xs).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function min(xs: readonly number[]): number {
  const v = valid(xs);
  return v.length === 0 ? Number.NaN : Math.min(...v);
}

export function max(xs: readonly number[]): number {
  const v = valid(xs);
  return v.length === 0 ? Number.NaN : Math.max(...v);
}

/** Element-wise ratio of two series taken in the same rounds (a[i] / b[i]). */
export function pairwise(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    out.push(Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? x / y : Number.NaN);
  }
  return out;
}

/** A number with about three significant digits, or "n/a". */
export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (digits !== undefined) return x.toFixed(digits);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}
