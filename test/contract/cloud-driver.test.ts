import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloudDriver } from '../../src/cloud/local/local-driver.js';
import { agentApi } from '../../src/protocol/agent-api.js';
import { RpcClient } from '../../src/rpc/client.js';
import { cmdlineOf, isAlive, sleep } from '../../src/util/proc.js';
import { FakeCloudDriver } from '../fakes/fake-cloud-driver.js';
import { cloudDriverContract } from './cloud-driver.contract.js';

const CLI = resolve('dist/cli/main.js');
const BUILT_DRIVER = resolve('dist/cloud/local/local-driver.js');

// ---- processes of a local node, found and stopped by pid only ----

/** Processes seen during the tests, each with the text its command line must still hold to be killed. */
const seen = new Map<number, string>();

function agentPidOf(base: string, id: string): number | null {
  const f = join(base, id, 'node.json');
  if (!existsSync(f)) return null;
  const pid = (JSON.parse(readFileSync(f, 'utf8')) as { pid: number }).pid;
  seen.set(pid, `${join(base, id)}`);
  return pid;
}

function mysqldPidOf(base: string, id: string): number | null {
  const f = join(base, id, 'run', 'mysqld.pid');
  if (!existsSync(f)) return null;
  const pid = Number.parseInt(readFileSync(f, 'utf8').trim(), 10);
  if (!Number.isInteger(pid)) return null;
  seen.set(pid, `--defaults-file=${join(base, id, 'my.cnf')}`);
  return pid;
}

function holds(pid: number, marker: string): boolean {
  return isAlive(pid) && (cmdlineOf(pid) ?? []).some((a) => a.includes(marker));
}

async function killAndWait(pid: number, marker: string): Promise<void> {
  if (!holds(pid, marker)) return;
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(20);
}

/**
 * Kills every agent and mariadbd of the nodes in `nodesDir` and any seen before under `root`,
 * checks none is left, then removes `root`.
 */
async function stopEverything(root: string, nodesDir = root): Promise<void> {
  if (existsSync(nodesDir)) {
    for (const id of readdirSync(nodesDir)) {
      agentPidOf(nodesDir, id);
      mysqldPidOf(nodesDir, id);
    }
  }
  for (const [pid, marker] of seen) {
    if (marker.includes(root)) {
      await killAndWait(pid, marker);
      seen.delete(pid);
    }
  }
  // Every process the driver started names its node's directory, under this unique `root`:
  // any still alive was missed by the driver's destroy and by the pids above.
  const missed = leftovers(root);
  for (const pid of missed) await killAndWait(pid, root);
  await rm(root, { recursive: true, force: true });
  if (missed.length > 0) throw new Error(`processes left running under ${root}: ${missed.join(', ')}`);
}

function leftovers(root: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^[0-9]+$/.test(name))
    .map(Number)
    .filter((pid) => holds(pid, root));
}

function tempBase(): string {
  return mkdtempSync(join(tmpdir(), 'cps-cloud-'));
}

function agentClient(node: { host: string; agentPort: number }): RpcClient<typeof agentApi> {
  return new RpcClient(agentApi, { url: `http://${node.host}:${node.agentPort}/`, timeoutMs: 120_000 });
}

// ---- the contract, on both drivers ----

cloudDriverContract('fake', async () => {
  const driver = new FakeCloudDriver();
  return { driver, cleanup: async () => undefined, vanish: async (id) => driver.vanish(id) };
});

cloudDriverContract('local', async () => {
  const base = tempBase();
  const driver = new LocalCloudDriver({ baseDir: join(base, 'nodes'), cliPath: CLI });
  return {
    driver,
    cleanup: () => stopEverything(base, join(base, 'nodes')),
    vanish: async (id) => {
      const pid = agentPidOf(join(base, 'nodes'), id);
      if (pid === null) throw new Error(`no node ${id}`);
      await killAndWait(pid, join(base, 'nodes', id));
    },
  };
});

// ---- what only the local driver does ----

describe('LocalCloudDriver: a node is a detached agent process', () => {
  let base: string;
  let driver: LocalCloudDriver;

  beforeAll(() => {
    base = tempBase();
    driver = new LocalCloudDriver({ baseDir: base, cliPath: CLI });
  });
  afterAll(async () => {
    await stopEverything(base);
  });

  it('runs an agent that answers check_agent_process on the returned port, with the pid in node.json', async () => {
    const t0 = Date.now();
    const node = await driver.createNode('answers');
    console.log(`createNode (new agent): ${Date.now() - t0} ms`);
    const pid = agentPidOf(base, 'answers');
    const answer = await agentClient(node).call('check_agent_process', {});
    expect(answer.ok).toBe(true);
    expect(answer.pid).toBe(pid);
    expect(JSON.parse(readFileSync(join(base, 'answers', 'node.json'), 'utf8'))).toEqual({ ...node, pid });
    expect(statSync(join(base, 'answers')).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'answers', 'node.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(base, 'answers', 'agent.log'), 'utf8')).toMatch(/agent listening/);
  });

  it('leaves no process and no directory after destroyNode', async () => {
    await driver.createNode('destroyed');
    const pid = agentPidOf(base, 'destroyed');
    expect(pid !== null && isAlive(pid)).toBe(true);
    const t0 = Date.now();
    await driver.destroyNode('destroyed');
    console.log(`destroyNode (agent without mariadbd): ${Date.now() - t0} ms`);
    expect(isAlive(pid!)).toBe(false);
    expect(existsSync(join(base, 'destroyed'))).toBe(false);
  });

  it('keeps a node running after the process that created it is interrupted, with its process group', async () => {
    // Another Node.js process, in a process group of its own, creates a node with the built
    // driver (and its default CLI path), then stays until SIGINT reaches its whole group, as
    // Ctrl-C in a terminal would. A detached agent is in no such group and survives.
    const script = `
      import { LocalCloudDriver } from ${JSON.stringify(BUILT_DRIVER)};
      const node = await new LocalCloudDriver({ baseDir: ${JSON.stringify(base)} }).createNode('outlives');
      process.stdout.write(JSON.stringify(node) + '\\n');
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const closed = new Promise<NodeJS.Signals | null>((r) => child.once('close', (_code, sig) => r(sig)));
    let out = '';
    await new Promise<void>((r, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) r();
      });
      child.once('close', () => reject(new Error(`the creating process exited: ${out}`)));
    });
    process.kill(-child.pid!, 'SIGINT');
    expect(await closed).toBe('SIGINT');
    const node = JSON.parse(out) as { id: string; host: string; agentPort: number; mysqlPort: number };
    const pid = agentPidOf(base, 'outlives');
    await sleep(300); // an agent that got the SIGINT too would be gone by now
    expect(pid !== null && isAlive(pid)).toBe(true);
    // A fresh driver object on the same directory finds it, alive, and creating it again is a no-op.
    const fresh = new LocalCloudDriver({ baseDir: base, cliPath: CLI });
    expect(await fresh.listNodes()).toContainEqual(node);
    expect(await fresh.createNode('outlives')).toEqual(node);
    expect(agentPidOf(base, 'outlives')).toBe(pid);
    expect((await agentClient(node).call('check_agent_process', {})).pid).toBe(pid);
    await fresh.destroyNode('outlives');
    expect(isAlive(pid!)).toBe(false);
  });

  it('skips a directory without node.json when listing', async () => {
    writeFileSync(join(base, 'stray-file'), 'x');
    mkdtempSync(join(base, 'no-record-'));
    const ids = (await driver.listNodes()).map((n) => n.id);
    expect(ids.some((id) => id.startsWith('no-record-') || id === 'stray-file')).toBe(false);
  });

  it('starts a killed agent again on the same ports; it finds its mariadbd, and destroy stops both', async () => {
    const node = await driver.createNode('restarted');
    const client = agentClient(node);
    const t0 = Date.now();
    await client.call('init_server', { serverId: 1 });
    console.log(`init_server: ${Date.now() - t0} ms`);
    const mysqld = mysqldPidOf(base, 'restarted');
    expect(mysqld !== null && isAlive(mysqld)).toBe(true);
    const agent1 = agentPidOf(base, 'restarted')!;
    await killAndWait(agent1, join(base, 'restarted'));
    expect((await driver.listNodes()).map((n) => n.id)).not.toContain('restarted');
    expect(isAlive(mysqld!)).toBe(true);

    const t1 = Date.now();
    expect(await driver.createNode('restarted')).toEqual(node);
    console.log(`createNode (agent restarted): ${Date.now() - t1} ms`);
    const agent2 = agentPidOf(base, 'restarted')!;
    expect(agent2).not.toBe(agent1);
    const status = await client.call('get_status', {});
    expect(status.mysqld).toMatchObject({ state: 'running', pid: mysqld });

    const t2 = Date.now();
    await driver.destroyNode('restarted');
    console.log(`destroyNode (agent stops its mariadbd): ${Date.now() - t2} ms`);
    expect(isAlive(agent2)).toBe(false);
    expect(isAlive(mysqld!)).toBe(false);
    expect(existsSync(join(base, 'restarted'))).toBe(false);
  });

  it('kills the mariadbd an agent killed from outside left behind when the node is destroyed', async () => {
    const node = await driver.createNode('orphan');
    await agentClient(node).call('init_server', { serverId: 1 });
    const mysqld = mysqldPidOf(base, 'orphan');
    expect(mysqld !== null && isAlive(mysqld)).toBe(true);
    const agent = agentPidOf(base, 'orphan')!;
    await killAndWait(agent, join(base, 'orphan')); // vanish: the agent only
    expect(isAlive(mysqld!)).toBe(true);
    const t0 = Date.now();
    await driver.destroyNode('orphan');
    console.log(`destroyNode (orphaned mariadbd): ${Date.now() - t0} ms`);
    expect(isAlive(mysqld!)).toBe(false);
    expect(existsSync(join(base, 'orphan'))).toBe(false);
  });
});

describe('LocalCloudDriver: an agent that does not come up', () => {
  let base: string;
  let scripts: string;

  beforeAll(() => {
    base = tempBase();
    scripts = mkdtempSync(join(tmpdir(), 'cps-cloud-bin-'));
    writeFileSync(join(scripts, 'silent.mjs'), "process.stdout.write('fake agent: booting, never answering\\n'); setInterval(() => undefined, 1000);\n");
    writeFileSync(join(scripts, 'dies.mjs'), "process.stderr.write('fake agent: cannot start\\n'); process.exit(3);\n");
  });
  afterAll(async () => {
    await stopEverything(base);
    await rm(scripts, { recursive: true, force: true });
  });

  it('is killed after startTimeoutMs, with the tail of agent.log in a TIMEOUT error', async () => {
    const driver = new LocalCloudDriver({ baseDir: base, cliPath: join(scripts, 'silent.mjs'), startTimeoutMs: 600 });
    await expect(driver.createNode('silent')).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/never answering/) });
    const pid = agentPidOf(base, 'silent');
    expect(pid).not.toBeNull();
    expect(isAlive(pid!)).toBe(false);
    expect(await driver.listNodes()).toEqual([]);
    await driver.destroyNode('silent');
    expect(existsSync(join(base, 'silent'))).toBe(false);
  });

  it('is reported at once when it exits before answering', async () => {
    const driver = new LocalCloudDriver({ baseDir: base, cliPath: join(scripts, 'dies.mjs'), startTimeoutMs: 20_000 });
    const t0 = Date.now();
    await expect(driver.createNode('dies')).rejects.toMatchObject({ code: 'PEER_FAILED', message: expect.stringMatching(/cannot start/) });
    expect(Date.now() - t0).toBeLessThan(5000);
    await driver.destroyNode('dies');
  });
});
