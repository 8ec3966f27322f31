/** A second (since the epoch) as ISO 8601 UTC to the second: `2026-11-29T21:30:05Z`. */
export function isoSecond(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** A moment as a compact UTC stamp for names (backup ids, labels): `20261129T213005Z`. */
export function compactUtc(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
