import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cliEntryPath } from '../../util/cli-entry.js';
import { checkNodeId, type CloudDriver, type CloudNode, type NodeCredentials } from '../driver.js';
import { AppError } from '../../util/errors.js';
import { Mutex } from '../../util/mutex.js';
import { cmdlineOf, isAlive, sleep } from '../../util/proc.js';
import { connectionPool, exchange, readJson } from '../../rpc/http-exchange.js';
import { KeyedLock } from './keyed-lock.js';
import { logTail, nodeFiles, readNodeFile, writeNodeFile, type NodeFiles, type LocalNodeFile } from './node-files.js';
import { findFreePorts } from './ports.js';

/** How the local cloud is set up. */
export interface LocalCloudDriverOptions {
  /** The directory holding one directory per node (the manager's `D/nodes`). */
  baseDir: string;
  /** Address every node's agent and mariadbd listen on. Default 127.0.0.1. */
  host?: string;
  /** The `cps-mysql` CLI to run agents with. Default: the built CLI next to this module. */
  cliPath?: string;
  /** How long a started agent has to answer. Default 20 s. */
  startTimeoutMs?: number;
  /** Where the agents keep the machine's data-directory template (`--template-dir`); none by default. */
  templateDir?: string;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const POLL_MS = 50;
/** How long an agent has to stop its mariadbd gracefully after SIGTERM. */
const STOP_GRACE_MS = 30_000;
/** How long a process has to disappear after SIGKILL. */
const KILL_WAIT_MS = 10_000;
/** A new node whose ports were taken meanwhile is started again on other ports, this many times. */
const START_ATTEMPTS = 3;

/** The node directory's subdirectory that holds its TLS material. */
const TLS_DIR = 'tls';

/** Puts the node's certificate, key and CA where its agent reads them (mode 0600). */
async function writeCredentials(dir: string, c: NodeCredentials): Promise<void> {
  const tls = join(dir, TLS_DIR);
  await mkdir(tls, { recursive: true, mode: 0o700 });
  await writeFile(join(tls, 'ca.crt'), c.ca, { mode: 0o600 });
  await writeFile(join(tls, 'agent.crt'), c.cert, { mode: 0o600 });
  await writeFile(join(tls, 'agent.key'), c.key, { mode: 0o600 });
}

/** The drivers' id check ('.' and '..' match the pattern but name no directory of a node). */
const checkId = checkNodeId;

function toNode(r: LocalNodeFile): CloudNode {
  return { id: r.id, host: r.host, agentPort: r.agentPort, mysqlPort: r.mysqlPort, healthPort: r.healthPort };
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

type StartOutcome = { ok: true } | { ok: false; why: 'exited' | 'timeout'; log: string };

/**
 * The embedded cloud: a node is a detached `cps-mysql agent` process on this host, with its
 * own ports and its own directory `baseDir/<id>/`, so it outlives the manager as a VM would.
 * Processes are only ever signalled by a pid whose command line names the node's directory.
 */
export class LocalCloudDriver implements CloudDriver {
  readonly name = 'local';

  get nodeHost(): string {
    return this.host;
  }
  private readonly baseDir: string;
  private readonly host: string;
  private readonly cliPath: string;
  private readonly startTimeoutMs: number;
  private readonly templateDir: string | null;
  private readonly locks = new KeyedLock();
  private readonly portLock = new Mutex();
  /** Connections of the health probes (plain HTTP). */
  private readonly probes = connectionPool(undefined);
  /** Ports chosen for a node whose node.json is not written yet. */
  private readonly promisedPorts = new Set<number>();

  constructor(options: LocalCloudDriverOptions) {
    this.baseDir = resolve(options.baseDir);
    this.host = options.host ?? '127.0.0.1';
    this.cliPath = resolve(options.cliPath ?? cliEntryPath());
    this.startTimeoutMs = options.startTimeoutMs ?? 20_000;
    this.templateDir = options.templateDir !== undefined ? resolve(options.templateDir) : null;
  }

  async createNode(id: string, credentials?: NodeCredentials): Promise<CloudNode> {
    checkId(id);
    return this.locks.run(id, () => this.ensureNode(id, credentials));
  }

  async listNodes(): Promise<CloudNode[]> {
    const nodes: CloudNode[] = [];
    for (const { files, record } of await this.records()) {
      if (this.isAgentOf(record.pid, files)) nodes.push(toNode(record));
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  async destroyNode(id: string): Promise<void> {
    checkId(id);
    return this.locks.run(id, () => this.removeNode(id));
  }

  private async ensureNode(id: string, credentials: NodeCredentials | undefined): Promise<CloudNode> {
    const files = nodeFiles(this.baseDir, id);
    if (credentials) await writeCredentials(files.dir, credentials);
    const existing = readNodeFile(files);
    if (existing && existing.id === id) {
      if (this.isAgentOf(existing.pid, files)) {
        // Running already (perhaps still starting, under another driver object): wait for it.
        const outcome = await this.waitForAgent(existing, files);
        if (!outcome.ok) throw this.startError(id, outcome);
        return toNode(existing);
      }
      // The agent died: start it again on the same directory and ports; it finds its mariadbd.
      const record = await this.start(files, { ...existing, pid: 0 });
      const outcome = await this.waitForAgent(record, files);
      if (!outcome.ok) {
        await this.killStarted(record.pid, files);
        throw this.startError(id, outcome);
      }
      return toNode(record);
    }
    await mkdir(this.baseDir, { recursive: true, mode: 0o711 });
    // Passable by the unprivileged user each node's mariadbd runs as; nothing here is readable by it.
    await chmod(this.baseDir, 0o711);
    for (let attempt = 1; ; attempt++) {
      const ports = await this.choosePorts();
      let record: LocalNodeFile;
      try {
        record = await this.start(files, { id, host: this.host, ...ports, pid: 0 });
      } finally {
        // Recorded in node.json now (or never used).
        this.promisedPorts.delete(ports.agentPort);
        this.promisedPorts.delete(ports.mysqlPort);
        this.promisedPorts.delete(ports.healthPort);
      }
      const outcome = await this.waitForAgent(record, files);
      if (outcome.ok) return toNode(record);
      await this.killStarted(record.pid, files);
      // Another program took a port between our check and the agent's bind.
      if (outcome.why === 'exited' && /EADDRINUSE/.test(outcome.log) && attempt < START_ATTEMPTS) continue;
      throw this.startError(id, outcome);
    }
  }

  /** Three free ports (agent API, mariadbd, health checks), promised to the caller until its node.json records them. */
  private choosePorts(): Promise<{ agentPort: number; mysqlPort: number; healthPort: number }> {
    return this.portLock.run('ports', async () => {
      const taken = new Set(this.promisedPorts);
      // A node's mariadbd port is free until init_server: never hand it out again.
      for (const { record } of await this.records()) {
        taken.add(record.agentPort).add(record.mysqlPort).add(record.healthPort);
      }
      const [agentPort, mysqlPort, healthPort] = (await findFreePorts(this.host, 3, taken)) as [number, number, number];
      this.promisedPorts.add(agentPort).add(mysqlPort).add(healthPort);
      return { agentPort, mysqlPort, healthPort };
    });
  }

  /** Spawns the node's agent, detached, and records it in node.json. */
  private async start(files: NodeFiles, planned: LocalNodeFile): Promise<LocalNodeFile> {
    await mkdir(files.dir, { recursive: true, mode: 0o700 });
    const logFd = openSync(files.log, 'a', 0o600);
    let pid: number | undefined;
    try {
      const args = [this.cliPath, 'agent', '--host', planned.host, '--port', String(planned.agentPort)];
      args.push('--mysql-port', String(planned.mysqlPort), '--health-port', String(planned.healthPort), '--dir', files.dir);
      // The node's certificate, when the manager issued one: the agent then speaks mutual TLS only.
      if (existsSync(join(files.dir, TLS_DIR, 'agent.key'))) args.push('--tls-dir', join(files.dir, TLS_DIR));
      // Every node of this machine copies one new data directory instead of making its own.
      if (this.templateDir !== null) args.push('--template-dir', this.templateDir);
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: files.dir });
      child.on('error', () => undefined); // a failed spawn shows as a missing pid
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(logFd);
    }
    if (pid === undefined) throw new AppError('INTERNAL', `cannot start the agent of node ${planned.id}`);
    const record = { ...planned, pid };
    try {
      await writeNodeFile(files, record);
    } catch (err) {
      signal(pid, 'SIGKILL'); // an agent no node.json names could never be found again
      throw err;
    }
    return record;
  }

  /** Polls `check_agent_process` until the agent with this pid answers, exits, or time runs out. */
  private async waitForAgent(record: LocalNodeFile, files: NodeFiles): Promise<StartOutcome> {
    // The agent's plain-HTTP health port answers as soon as it is up, whatever TLS its API uses.
    const url = `http://${urlHost(record.host)}:${record.healthPort}/health`;
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      try {
        const left = Math.max(100, Math.min(2000, deadline - Date.now()));
        const res = await exchange({ url: new URL(url), method: 'GET', agent: this.probes, deadlineMs: left, idleMs: left });
        const answer = (await readJson(res.body)) as { agentPid?: unknown } | null;
        if (answer?.agentPid === record.pid) return { ok: true };
      } catch {
        // not listening yet
      }
      if (!this.isAgentOf(record.pid, files)) return { ok: false, why: 'exited', log: await logTail(files) };
      if (Date.now() >= deadline) return { ok: false, why: 'timeout', log: await logTail(files) };
      await sleep(POLL_MS);
    }
  }

  private startError(id: string, outcome: Exclude<StartOutcome, { ok: true }>): AppError {
    if (outcome.why === 'timeout') {
      return new AppError('TIMEOUT', `the agent of node ${id} did not answer within ${this.startTimeoutMs} ms; agent.log: ${outcome.log}`);
    }
    return new AppError('PEER_FAILED', `the agent of node ${id} exited before answering; agent.log: ${outcome.log}`);
  }

  /** Kills an agent this driver started and that never answered (its mariadbd, if any, stays). */
  private async killStarted(pid: number, files: NodeFiles): Promise<void> {
    if (!this.isAgentOf(pid, files)) return;
    signal(pid, 'SIGKILL');
    await waitGone(pid, KILL_WAIT_MS);
  }

  private async removeNode(id: string): Promise<void> {
    const files = nodeFiles(this.baseDir, id);
    const record = readNodeFile(files);
    if (record && this.isAgentOf(record.pid, files)) {
      // The agent stops its mariadbd gracefully on SIGTERM.
      signal(record.pid, 'SIGTERM');
      if (!(await waitGone(record.pid, STOP_GRACE_MS)) && this.isAgentOf(record.pid, files)) {
        signal(record.pid, 'SIGKILL');
        if (!(await waitGone(record.pid, KILL_WAIT_MS))) {
          throw new AppError('TIMEOUT', `the agent of node ${id} (pid ${record.pid}) is still alive after SIGKILL`);
        }
      }
    }
    // An agent killed from outside leaves its mariadbd running.
    const mysqld = this.mysqldOf(files);
    if (mysqld !== null) {
      signal(mysqld, 'SIGKILL');
      if (!(await waitGone(mysqld, KILL_WAIT_MS))) {
        throw new AppError('TIMEOUT', `the mariadbd of node ${id} (pid ${mysqld}) is still alive after SIGKILL`);
      }
    }
    await rm(files.dir, { recursive: true, force: true });
  }

  /** Every node directory with a node.json of ours, alive or not. */
  private async records(): Promise<{ files: NodeFiles; record: LocalNodeFile }[]> {
    let names: string[];
    try {
      const entries = await readdir(this.baseDir, { withFileTypes: true });
      names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const found: { files: NodeFiles; record: LocalNodeFile }[] = [];
    for (const name of names) {
      if (!ID_PATTERN.test(name)) continue;
      const files = nodeFiles(this.baseDir, name);
      const record = readNodeFile(files);
      if (record && record.id === name) found.push({ files, record });
    }
    return found;
  }

  /** True when `pid` is alive and is the agent of this node (its command line names the node's directory). */
  private isAgentOf(pid: number, files: NodeFiles): boolean {
    if (!isAlive(pid)) return false;
    const cmd = cmdlineOf(pid);
    if (!cmd) return false;
    const at = cmd.indexOf('--dir');
    return at >= 0 && cmd[at + 1] === files.dir;
  }

  /** The pid of this node's live mariadbd, from its pid file, checked against its command line. */
  private mysqldOf(files: NodeFiles): number | null {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(files.mysqldPid, 'utf8').trim(), 10);
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return null;
    const cmd = cmdlineOf(pid);
    return cmd?.includes(`--defaults-file=${files.myCnf}`) ? pid : null;
  }
}
