import { readFileSync, statSync } from 'node:fs';
import { runCmd } from './proc.js';

/** Bytes a directory takes on disk (`du -sb`). */
export async function duBytes(dir: string): Promise<number> {
  const r = await runCmd('du', ['-sb', dir]);
  return Number(r.stdout.split(/\s/)[0]);
}

export function mtimeMs(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

export interface LogLine {
  time: number;
  msg: string;
  [key: string]: unknown;
}

/** The pino JSON lines of an agent's or manager's log (lines that are not JSON are skipped). */
export function readJsonLog(path: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o['time'] === 'number' && typeof o['msg'] === 'string') out.push(o as LogLine);
    } catch {
      // a partial line
    }
  }
  return out;
}

/** The last line of a log with this message. */
export function lastLogLine(path: string, msg: string): LogLine | null {
  const lines = readJsonLog(path).filter((l) => l.msg === msg);
  return lines[lines.length - 1] ?? null;
}

/** The first line of a JSON log (pino) whose `msg` is `msg`, or null. */
export function firstLogLine(path: string, msg: string): LogLine | null {
  return readJsonLog(path).find((l) => l.msg === msg) ?? null;
}

export const MiB = 1024 * 1024;
