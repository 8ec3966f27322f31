import type { NodeLists, ServiceInfo } from '../protocol/manager-api.js';
import type { RecoverableWindow } from '../protocol/restore.js';
import { withJson } from '../rpc/framing.js';
import type { StateStore } from '../store/store.js';
import { serviceInfo } from './api-views.js';
import type { ManagerLoop } from './loop.js';
import type { Observer } from './observe.js';

/** What the view is built from. */
export interface ServiceViewDeps {
  /** The registry, the service record, the operation and the events. */
  store: StateStore;
  /** What the monitor last saw of each node. */
  observer: Observer;
  /** The step under way and the last decision. */
  loop: ManagerLoop;
  /** Failed checks before the master counts as unreachable (shown as is). */
  failoverChecks: number;
  /** Now, ms since the epoch. */
  now: () => number;
  /** The recoverable window (issue #16), or null without backups. */
  recoverable: () => RecoverableWindow | null;
}

/** Everything get_service_info shows, as compared between two looks (identity or value). */
type Stamp = readonly unknown[];

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Freezes an answer all the way down: it is shared by every caller until the next change. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * get_service_info answered from memory (issue #17): the answer, and its JSON text, are built
 * once per change of what they show — the store's version, what the monitor saw, the loop's
 * step and decision, the recoverable window, whether a failover block has lapsed — and shared
 * (frozen) by every call in between. A call costs a few comparisons; the store is read only
 * when something changed. The answer is at most as old as the monitor's last look, as before.
 */
export class ServiceView {
  private stamp: Stamp = [];
  private cached: ServiceInfo | null = null;
  private lists: { of: ServiceInfo; lists: NodeLists } | null = null;

  constructor(private readonly deps: ServiceViewDeps) {}

  /** The service as get_service_info answers it: the same frozen object until something it shows changes. */
  info(): ServiceInfo {
    const { store, observer, loop } = this.deps;
    const now = this.deps.now();
    const w = this.deps.recoverable();
    const blocked = this.cached?.failover.blockedUntil ?? null;
    const stamp: Stamp = [store.version, observer.version, loop.current, loop.lastDecision, w?.from, w?.until, w?.secondsBehind, blocked !== null && Date.parse(blocked) <= now];
    if (this.cached !== null && sameStamp(stamp, this.stamp)) return this.cached;
    const info = deepFreeze(serviceInfo({ store, observer, loop, failoverChecks: this.deps.failoverChecks, now, recoverable: w }));
    this.cached = withJson(info, JSON.stringify(info));
    // The lapse is judged on the answer just built: a block still ahead is not lapsed.
    this.stamp = [...stamp.slice(0, -1), false];
    return this.cached;
  }

  /** The node ids as list_nodes answers them (masters, replicas, all; by server id), from the same view. */
  nodeLists(): NodeLists {
    const info = this.info();
    if (this.lists?.of !== info) {
      const lists = deepFreeze({
        masters: info.nodes.filter((n) => n.role === 'master').map((n) => n.id),
        slaves: info.nodes.filter((n) => n.role === 'replica').map((n) => n.id),
        serviceNode: info.nodes.map((n) => n.id),
      });
      this.lists = { of: info, lists: withJson(lists, JSON.stringify(lists)) };
    }
    return this.lists.lists;
  }
}
