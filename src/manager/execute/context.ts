import type { CloudDriver, NodeCredentials } from '../../cloud/driver.js';
import type { ReplicationSource } from '../../protocol/agent-api.js';
import type { NodeRecord, StateStore } from '../../store/store.js';
import { AppError } from '../../util/errors.js';
import type { AgentDirectory, AgentPort } from '../agent-port.js';
import type { Decision, StepKind, StepOf } from '../core/model.js';
import type { RestorePlan } from '../../protocol/restore.js';

/** How long the steps wait for the things they wait for. */
export interface StepTimeouts {
  /** Seconds a switchover may hold writes blocked while its candidate applies what the master wrote. */
  switchoverTimeoutSeconds: number;
  /** Seconds a failover's candidate may take to apply its relay log. */
  drainSeconds: number;
  /** Milliseconds a former master has to answer `set_read_only` while it is fenced. */
  fenceMs: number;
  /** Seconds a new node has to start pulling its snapshot (it may wait behind another). */
  snapshotGrantSeconds: number;
}

/** What every step handler works with. */
export interface StepContext {
  /** The service's records. */
  store: StateStore;
  /** The cloud. */
  driver: CloudDriver;
  /** The nodes' agents. */
  agents: AgentDirectory;
  /** How long steps wait. */
  timeouts: StepTimeouts;
  /** Issues a node's TLS identity before the cloud creates it (none: agents speak plain HTTP). */
  credentialsFor: ((id: string) => Promise<NodeCredentials>) | null;
  /** Backups and the binary log archive (restores, shutdown's last archiving); null: none kept. */
  pitr?: PitrPort | null;
  /** Whether a provisioning names a data channel to the new node (config snapshotChannel); absent: it does. */
  snapshotChannel?: boolean;
}

/** What the restore and archive steps need of the backups and the archive (manager/archive/). */
export interface PitrPort {
  /** Builds a node from a restore plan: answers the GTID position reached and where the new history begins in the plan's cut file. */
  restoreNode(agent: AgentPort, plan: RestorePlan, serverId: number, progress: (what: string) => void): Promise<{ gtid: string; cutAt: number | null }>;
  /** Sets aside what a restore to an earlier time left behind; answers how many files and backups. */
  setAsideAfter(plan: RestorePlan, cutAt: number | null, label: string): Promise<{ files: number; backups: number }>;
  /** Waits until the archive holds all the master wrote (`deadlineMs` at most), then stops archiving; answers whether it did, null when nothing was archived. */
  finish(deadlineMs: number): Promise<boolean | null>;
}

/**
 * Carries out one kind of step: its outside effects (agents, cloud), then the store writes it
 * returns, which the executor commits in one transaction with the operation's new phase.
 */
export type StepHandler<K extends StepKind> = (ctx: StepContext, step: StepOf<K>, decision: Decision) => Promise<(() => void) | void>;

/** A family of handlers, by step kind. */
export type HandlerTable<K extends StepKind = StepKind> = { [P in K]: StepHandler<P> };

/** The registry's record of a node; NOT_FOUND when it is gone. */
export function nodeOf(ctx: StepContext, id: string): NodeRecord {
  const n = ctx.store.node(id);
  if (!n) throw new AppError('NOT_FOUND', `${id} is not in the registry`);
  return n;
}

/** The agent of a registered node. */
export function agentOf(ctx: StepContext, id: string): AgentPort {
  return ctx.agents.for(nodeOf(ctx, id));
}

/** How replicas reach this master: its address and the replication account. */
export function sourceOf(ctx: StepContext, masterId: string): ReplicationSource {
  const master = nodeOf(ctx, masterId);
  const s = ctx.store.service()!;
  return { host: master.host!, port: master.mysqlPort!, user: s.replUser, password: s.replPassword };
}

/**
 * Puts back the service's accounts on a node the manager just provisioned, promoted or
 * restarted; on the master through its binary log, so its replicas follow.
 */
export async function ensureAccounts(ctx: StepContext, id: string, isMaster: boolean): Promise<void> {
  const s = ctx.store.service()!;
  await agentOf(ctx, id).call('ensure_accounts', {
    replication: { user: s.replUser, password: s.replPassword },
    service: { user: s.user, password: s.password },
    isMaster,
  });
}

/** Makes a node the master: promote (replication forgotten, writable), the replication account, the service's accounts on its binary log. */
export async function promoteNode(ctx: StepContext, id: string): Promise<void> {
  const s = ctx.store.service()!;
  const agent = agentOf(ctx, id);
  await agent.call('promote', {});
  await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
  await ensureAccounts(ctx, id, true);
}

/**
 * Runs `task` for every item at once, lets every one end, then fails with the first error if
 * any failed. A task that throws before its first await fails like the others (it never leaves
 * the ones already started without a handler).
 */
export async function settleEach<T>(items: readonly T[], task: (item: T) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(items.map(async (item) => task(item)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
