import { managerHandlers } from '../../src/manager/api.js';
import { Executor } from '../../src/manager/execute/executor.js';
import { ManagerLoop, type Round } from '../../src/manager/loop.js';
import { Observer } from '../../src/manager/observe.js';
import type { ManagerApi } from '../../src/protocol/manager-api.js';
import type { ParamsOf, ResultOf } from '../../src/protocol/method.js';
import type { Handlers } from '../../src/rpc/server.js';
import { silentLogger } from '../../src/util/logger.js';
import { NOW } from '../helpers/snapshots.js';
import { FakeClock } from './fake-clock.js';
import { FakeCluster, ManagerCrash } from './fake-cluster.js';
import { MemoryStore } from './memory-store.js';

/** The monitoring interval of the harness's manager, in virtual milliseconds. */
const INTERVAL_MS = 1000;

/**
 * A whole manager over fakes, in one process: MemoryStore, FakeCluster (cloud and agents),
 * FakeClock, and the real observer, decision, executor, loop and API. `round()` is one loop
 * round followed by one round of replication; a manager that dies (FakeCluster.crashAfter) is
 * replaced by a new one on the same store and the same cluster, as a restarted process would be.
 */
export class ManagerHarness {
  readonly clock = new FakeClock(NOW);
  readonly store = new MemoryStore(() => new Date(this.clock.now()).toISOString());
  readonly cluster = new FakeCluster();
  loop!: ManagerLoop;
  api!: Handlers<ManagerApi>;
  observer!: Observer;
  /** How many times the manager died and was started again. */
  restarts = 0;
  /** Every decision taken, in order (what the loop logged and put in the events). */
  readonly decisions: string[] = [];

  constructor() {
    this.cluster.onCrash = () => this.store.crash();
    this.build();
  }

  /** A manager process over the store and the cluster: new observer, executor, loop and API. */
  private build(): void {
    const logger = silentLogger();
    const { store, cluster, clock } = this;
    this.observer = new Observer(
      { store, driver: cluster, agents: cluster, probe: cluster.probe, clock, logger },
      { counterIntervalMs: INTERVAL_MS, failoverChecks: 2, failoverBlockSeconds: 300, pollTimeoutMs: 1500, probeTimeoutMs: 1000 },
    );
    const executor = new Executor({ store, driver: cluster, agents: cluster, timeouts: { switchoverTimeoutSeconds: 5, drainSeconds: 30, fenceMs: 1000, snapshotGrantSeconds: 900 }, credentialsFor: null });
    this.loop = new ManagerLoop({ store, observer: this.observer, executor, logger, clock }, { intervalMs: INTERVAL_MS, retryDelayMs: 1000, suspectRecheckMs: 150 });
    this.api = managerHandlers({ store, driver: cluster, agents: cluster, observer: this.observer, loop: this.loop, clock, readLog: async () => '', failoverChecks: 2, loopWaitMs: 5000 });
  }

  /** Calls an API method as a client would (no upload). */
  call<K extends keyof ManagerApi & string>(name: K, params: ParamsOf<ManagerApi[K]>): Promise<ResultOf<ManagerApi[K]>> {
    const spec = (this.api as Record<string, (p: unknown, ctx: unknown) => Promise<unknown>>)[name]!;
    return spec(params, { file: null, remoteAddress: '127.0.0.1', peer: null }) as Promise<ResultOf<ManagerApi[K]>>;
  }

  /** One loop round, then one replication round and a monitoring interval of virtual time. */
  async round(): Promise<Round | null> {
    let r: Round | null = null;
    try {
      r = await this.loop.runOnce();
      if (r.decision?.step) this.decisions.push(r.decision.reason);
    } catch (err) {
      if (!(err instanceof ManagerCrash) && !this.dead) throw err;
    }
    if (this.dead) this.restart();
    this.cluster.tick();
    this.clock.advance(INTERVAL_MS);
    return r;
  }

  private get dead(): boolean {
    return this.cluster.crashed;
  }

  /** The manager died: a new one starts on what the old one committed. */
  private restart(): void {
    this.cluster.crashAfter(null);
    this.store.restart();
    this.restarts++;
    this.build();
  }

  /**
   * Rounds until the service is idle: no operation, and seven rounds in a row that decided
   * nothing (a suspect master is watched for more than one; a replacement waits
   * REPLACE_AFTER_CHECKS), at most `max` rounds.
   */
  async settle(max = 200): Promise<{ rounds: number; idle: boolean }> {
    let quiet = 0;
    for (let i = 1; i <= max; i++) {
      const r = await this.round();
      quiet = r && !r.failed && r.decision && !r.decision.step && this.store.operation() === null ? quiet + 1 : 0;
      if (quiet === 7) return { rounds: i, idle: true };
    }
    return { rounds: max, idle: false };
  }
}
