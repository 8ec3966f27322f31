import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isAlive, sleep } from '../../src/util/proc.js';

/** Runs `ip …` (or another program) and returns its output; throws with its stderr. */
function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** SIGKILL to each PID; those that ended already are skipped. */
function sigkill(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // ended already
    }
  }
}

/** One host: a network namespace with its address on the test's bridge. */
export interface NsHost {
  /** The namespace's name. */
  ns: string;
  /** Its address (assigned by the test). */
  address: string;
  /** The host side of its veth pair (on the bridge). */
  link: string;
}

/**
 * Hosts for tests (MARIADB-NOTES.md, "Several hosts on one machine"): `n` network namespaces, each
 * with a veth pair on a bridge of its own in the root namespace, on a /24 of 10.213.0.0/16 the
 * test picks. Before any traffic the bridge gets the subnet's first address and `ip route get`
 * must show every host's address going over that bridge (nothing may leave the machine). Links
 * are cut with `ip link set down` or iptables rules inside a namespace. `cleanup` removes every
 * namespace, link and rule it made, also after a failure.
 */
export class NetnsHosts {
  readonly hosts: NsHost[] = [];
  readonly bridge: string;
  readonly gateway: string;
  private readonly tag = randomBytes(2).toString('hex');
  private readonly subnet: string;

  private constructor(n: number) {
    this.bridge = `cpsbr${this.tag}`;
    this.subnet = `10.213.${16 + (parseInt(this.tag, 16) % 200)}`;
    this.gateway = `${this.subnet}.1`;
    for (let i = 1; i <= n; i++) this.hosts.push({ ns: `cps${this.tag}-${i}`, address: `${this.subnet}.${10 + i}`, link: `cv${this.tag}h${i}` });
  }

  /** Makes the bridge and the namespaces; throws (after cleaning up) if a route would leave the machine. */
  static create(n: number): NetnsHosts {
    const net = new NetnsHosts(n);
    try {
      sh('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
      sh('ip', ['addr', 'add', `${net.gateway}/24`, 'dev', net.bridge]);
      sh('ip', ['link', 'set', net.bridge, 'up']);
      for (const [i, h] of net.hosts.entries()) {
        const inner = `cv${net.tag}n${i + 1}`;
        sh('ip', ['netns', 'add', h.ns]);
        sh('ip', ['link', 'add', h.link, 'type', 'veth', 'peer', 'name', inner]);
        sh('ip', ['link', 'set', inner, 'netns', h.ns]);
        sh('ip', ['link', 'set', h.link, 'master', net.bridge, 'up']);
        sh('ip', ['netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.address}/24`, 'dev', inner]);
        sh('ip', ['netns', 'exec', h.ns, 'ip', 'link', 'set', inner, 'up']);
        sh('ip', ['netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up']);
        const route = sh('ip', ['route', 'get', h.address]);
        if (!route.includes(`dev ${net.bridge}`)) throw new Error(`the route to ${h.address} does not go over ${net.bridge}: ${route.trim()}`);
      }
    } catch (err) {
      net.cleanup();
      throw err;
    }
    return net;
  }

  /** Starts a program inside host `i`'s namespace (a child of the test, stopped by its PID). */
  spawnIn(i: number, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.hosts[i]!.ns, cmd, ...args], options);
  }

  /** Runs a program inside host `i`'s namespace to its end. */
  execIn(i: number, cmd: string, args: string[]): string {
    return sh('ip', ['netns', 'exec', this.hosts[i]!.ns, cmd, ...args]);
  }

  /** Host `i`'s link down (powered off, as the network sees it) or up again. */
  link(i: number, up: boolean): void {
    sh('ip', ['link', 'set', this.hosts[i]!.link, up ? 'up' : 'down']);
  }

  /** The PIDs of every process in host `i`'s namespace (the agent the test started there, its mariadbd). */
  pids(i: number): number[] {
    return sh('ip', ['netns', 'pids', this.hosts[i]!.ns]).split('\n').filter(Boolean).map(Number);
  }

  /**
   * Host `i` powered off: its link goes down, then every process in its namespace gets SIGKILL
   * (each by its PID). Processes that ended meanwhile are skipped.
   */
  powerOff(i: number): void {
    this.link(i, false);
    sigkill(this.pids(i));
  }

  /** Cuts host `i` from these addresses, both ways (iptables inside its namespace). */
  cut(i: number, addresses: string[]): void {
    for (const a of addresses) {
      this.execIn(i, 'iptables', ['-A', 'INPUT', '-s', a, '-j', 'DROP']);
      this.execIn(i, 'iptables', ['-A', 'OUTPUT', '-d', a, '-j', 'DROP']);
    }
  }

  /** Removes every rule of host `i`: its links heal. */
  heal(i: number): void {
    this.execIn(i, 'iptables', ['-F', 'INPUT']);
    this.execIn(i, 'iptables', ['-F', 'OUTPUT']);
  }

  /**
   * SIGKILLs every process left in the namespaces (agents, and the mariadbd each started: a
   * namespace that is deleted does not end its processes), each by its PID, and waits until they
   * are gone.
   */
  async killAll(): Promise<void> {
    const pids = this.hosts.flatMap((_, i) => {
      try {
        return this.pids(i);
      } catch {
        return [];
      }
    });
    sigkill(pids);
    const deadline = Date.now() + 10_000;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
  }

  /** Removes every namespace (their rules go with them), link and the bridge; never throws. Call killAll first. */
  cleanup(): void {
    for (const h of this.hosts) {
      try {
        sh('ip', ['netns', 'del', h.ns]);
      } catch {
        // not made, or gone
      }
      try {
        sh('ip', ['link', 'del', h.link]);
      } catch {
        // went with its namespace
      }
    }
    try {
      sh('ip', ['link', 'del', this.bridge]);
    } catch {
      // not made
    }
  }
}

/**
 * A client inside a host's namespace (test/helpers/ns-writer.mjs): a writer records what it was
 * acknowledged, with the time of each acknowledgement (epoch ms); a sampler records every 50 ms
 * whether the server takes writes. Stopped by its PID.
 */
export class NsClient {
  /** Acknowledged ids and when (epoch ms). */
  readonly acks: { id: number; at: number }[] = [];
  /** Failed ids and when. */
  readonly errors: { id: number; at: number }[] = [];
  /** Samples: when the look began and ended (epoch ms), and whether the server took writes then. */
  readonly samples: { writable: boolean; at: number; end: number }[] = [];
  private buffer = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => {
      this.buffer += c.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop()!;
      for (const l of lines) {
        const [what, a, at, end] = l.split(' ');
        if (what === 'rw') this.samples.push({ writable: a === '1', at: Number(at), end: Number(end ?? at) });
        else (what === 'ack' ? this.acks : this.errors).push({ id: Number(a), at: Number(at) });
      }
    });
  }

  /** A writer in host `i` against `target`, inserting ids from `firstId` into `table`. */
  static writer(net: NetnsHosts, i: number, target: { host: string; port: number }, table: string, firstId: number, password: string): NsClient {
    return NsClient.start(net, i, ['write', target.host, String(target.port), table, String(firstId)], password);
  }

  /** A sampler in host `i` of whether `target` takes writes. */
  static sampler(net: NetnsHosts, i: number, target: { host: string; port: number }, password: string): NsClient {
    return NsClient.start(net, i, ['sample', target.host, String(target.port)], password);
  }

  private static start(net: NetnsHosts, i: number, args: string[], password: string): NsClient {
    const child = net.spawnIn(i, process.execPath, ['test/helpers/ns-writer.mjs', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin?.end(`${password}\n`);
    return new NsClient(child);
  }

  /** Resolves once `n` more writes were acknowledged; throws past `timeoutMs`. */
  async waitForAcks(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.acks.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acks.length < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.acks.length} of ${target} writes acknowledged inside the namespace`);
      await sleep(20);
    }
  }

  /** SIGTERM by its PID; resolves once it ended. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const ended = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await ended;
    clearTimeout(timer);
  }
}
