import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFile } from '../../util/json-file.js';
import { lastLines } from '../../util/proc.js';

/** What `baseDir/<id>/node.json` holds: where the node's agent listens and its pid. */
export interface LocalNodeFile {
  /** The node's id. */
  id: string;
  /** The address its agent and mariadbd listen on. */
  host: string;
  /** Its agent's API port. */
  agentPort: number;
  /** Its mariadbd's port. */
  mysqlPort: number;
  /** Its health checks' port. */
  healthPort: number;
  /** Its agent's pid. */
  pid: number;
}

/** The files of one local node, all under `baseDir/<id>/` (the agent's `--dir`). */
export interface NodeFiles {
  /** The node's directory (the agent's `--dir`). */
  dir: string;
  /** `node.json`. */
  record: string;
  /** The agent's log. */
  log: string;
  /** Written by the agent: the option file its mariadbd is started with, and that server's pid. */
  myCnf: string;
  /** The server's pid file. */
  mysqldPid: string;
}

/** The files of node `id` below `baseDir`. */
export function nodeFiles(baseDir: string, id: string): NodeFiles {
  const dir = join(baseDir, id);
  return {
    dir,
    record: join(dir, 'node.json'),
    log: join(dir, 'agent.log'),
    myCnf: join(dir, 'my.cnf'),
    mysqldPid: join(dir, 'run', 'mysqld.pid'),
  };
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** The node's record, or null when there is none or it is not one we wrote. */
export function readNodeFile(files: NodeFiles): LocalNodeFile | null {
  let raw: unknown;
  try {
    raw = readJsonFile<unknown>(files.record);
  } catch {
    return null; // unreadable or not JSON: not a node of ours
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r['id'] !== 'string' || typeof r['host'] !== 'string') return null;
  if (!isPort(r['agentPort']) || !isPort(r['mysqlPort'])) return null;
  if (typeof r['pid'] !== 'number' || !Number.isInteger(r['pid']) || r['pid'] <= 1) return null;
  const healthPort = isPort(r['healthPort']) ? r['healthPort'] : r['mysqlPort'] + 1;
  return { id: r['id'], host: r['host'], agentPort: r['agentPort'], mysqlPort: r['mysqlPort'], healthPort, pid: r['pid'] };
}

/** Writes the node's record (atomically, mode 0600). */
export function writeNodeFile(files: NodeFiles, record: LocalNodeFile): Promise<void> {
  return writeJsonFile(files.record, record);
}

/** The last lines of the agent's log, to explain why it did not come up. */
export async function logTail(files: NodeFiles, lines = 10): Promise<string> {
  const max = 8192;
  try {
    const fh = await open(files.log, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - max);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return lastLines(buf.toString('utf8'), lines);
    } finally {
      await fh.close();
    }
  } catch {
    return '(no agent log)';
  }
}
