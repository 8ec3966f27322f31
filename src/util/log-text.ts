/** pino's numeric levels by name, as `cps-mysql logs` prints them. */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** pino's own fields, printed in the line's head rather than as key=value. */
const OWN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/**
 * One JSON log line (pino's) as a line a person reads: `2026-11-29 15:40:12.123 INFO  idle:
 * service RUNNING… key=value …`. A line that is not JSON is kept as it is.
 */
export function readableLogLine(line: string): string {
  let j: Record<string, unknown>;
  try {
    const parsed = JSON.parse(line) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    j = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof j['time'] === 'number' ? new Date(j['time']).toISOString().replace('T', ' ').replace('Z', '') : '';
  const level = (LEVELS[Number(j['level'])] ?? String(j['level'] ?? '')).padEnd(5);
  const rest = Object.entries(j)
    .filter(([k, v]) => !OWN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  return [time, level, String(j['msg'] ?? ''), ...rest].filter((x) => x !== '').join(' ');
}

/** A log's text (JSON lines) as lines a person reads, in order; empty lines dropped. */
export function readableLog(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(readableLogLine)
    .join('\n');
}
