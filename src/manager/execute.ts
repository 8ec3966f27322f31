import type { CloudDriver, NodeCredentials } from './ports.js';
import type { Step } from './core/model.js';
import type { StateStore, NodeRecord, ServiceRecord } from '../store/store.js';
import type { AgentClients } from './agents.js';
import { AppError } from '../util/errors.js';

/** How long a replica may take to apply what its master wrote during a switchover. */
export const CATCH_UP_TIMEOUT_SECONDS = 30;

/** How long each fenced replica may take to apply its relay log during a failover. */
export const DRAIN_TIMEOUT_SECONDS = 30;
/** A former master that does not answer this fast is not waited for while fencing. */
const FENCE_TIMEOUT_MS = 1000;

export interface ExecutorOptions {
  /** Seconds an automatic failover blocks the next one. */
  failoverBlockSeconds: number;
  /** Issues a node's TLS identity before the cloud creates it (none: agents speak plain HTTP). */
  credentialsFor?: (id: string) => Promise<NodeCredentials>;
}

/** How long a new node has to start pulling its snapshot from the source (it may wait behind another). */
const SNAPSHOT_GRANT_SECONDS = 900;

/** Carries out one step the decision chose. Every step is safe to run again after a crash. */
export class Executor {
  constructor(
    private readonly store: StateStore,
    private readonly driver: CloudDriver,
    private readonly agents: AgentClients,
    private readonly options: ExecutorOptions,
  ) {}

  private beginInternal(kind: string, params: Record<string, unknown>): void {
    this.store.atomically(() => {
      this.store.beginOperation(kind, params);
      this.store.updateService({ state: 'ADAPTING', error: null });
    });
  }

  private node(id: string): NodeRecord {
    const n = this.store.node(id);
    if (!n) throw new AppError('NOT_FOUND', `${id} is not in the registry`);
    return n;
  }

  private masterSource(master: NodeRecord): { host: string; port: number; user: string; password: string } {
    const s = this.store.service()!;
    return { host: master.host!, port: master.mysqlPort!, user: s.replUser, password: s.replPassword };
  }

  /**
   * Puts back the service's accounts on a node the manager just provisioned, promoted or
   * restarted; on the master through its binary log, so its replicas follow.
   */
  private async ensureAccounts(n: NodeRecord, isMaster: boolean): Promise<void> {
    const s = this.store.service()!;
    await this.agents.for(n).call('ensure_accounts', {
      replication: { user: s.replUser, password: s.replPassword },
      service: { user: s.user, password: s.password },
      isMaster,
    });
  }

  async run(step: Step): Promise<void> {
    switch (step.kind) {
      case 'register_nodes':
        this.store.atomically(() => {
          for (const n of step.nodes) this.store.insertNode({ ...n, status: 'creating', host: null, agentPort: null, mysqlPort: null, healthPort: null });
          const next = Math.max(...step.nodes.map((n) => n.serverId)) + 1;
          if (next > this.store.service()!.nextSeq) this.store.updateService({ nextSeq: next });
        });
        return;
      case 'create_nodes':
        await settleAll(
          step.ids.map(async (id) => {
            const c = await this.driver.createNode(id, await this.options.credentialsFor?.(id));
            this.store.updateNode(id, { host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, healthPort: c.healthPort, status: 'created' });
          }),
        );
        return;
      case 'start_master': {
        const n = this.node(step.id);
        const s = this.store.service()!;
        const agent = this.agents.for(n);
        await agent.call('init_server', { serverId: n.serverId });
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
        await this.ensureAccounts(n, true);
        this.store.updateNode(n.id, { status: 'ready' });
        return;
      }
      case 'provision': {
        const master = this.node(step.masterId);
        await settleAll(
          step.ids.map(async (id) => {
            const n = this.node(id);
            // The master's agent streams its snapshot to this node only because the manager says so,
            // and only until this provisioning ends.
            await this.agents.for(master).call('authorize_peer', { peer: id, ttlSeconds: SNAPSHOT_GRANT_SECONDS });
            try {
              await this.agents.for(n).call('provision_from', {
                source: { host: master.host!, port: master.agentPort! },
                master: this.masterSource(master),
                serverId: n.serverId,
              });
            } finally {
              await this.agents.for(master).call('revoke_peer', { peer: id }).catch(() => undefined);
            }
            await this.ensureAccounts(n, false);
            this.store.updateNode(id, { status: 'ready' });
          }),
        );
        return;
      }
      case 'destroy_nodes':
        for (const id of step.ids) this.store.updateNode(id, { status: 'removing' });
        await settleAll(
          step.ids.map(async (id) => {
            await this.driver.destroyNode(id);
            this.store.deleteNode(id);
          }),
        );
        return;
      case 'forget_nodes':
        await settleAll(
          step.ids.map(async (id) => {
            // The machine is gone as far as the cloud is concerned; clear whatever it left behind.
            await this.driver.destroyNode(id);
            this.store.deleteNode(id);
          }),
        );
        return;
      case 'destroy_unknown':
        await settleAll(step.ids.map((id) => this.driver.destroyNode(id)));
        return;
      case 'fence':
        await this.agents.for(this.node(step.masterId)).call('set_read_only', { readOnly: true });
        this.store.updateOperation({ phase: 'fenced' });
        return;
      case 'catch_up': {
        const master = await this.agents.for(this.node(step.masterId)).call('get_status', {});
        const gtid = master.gtid?.binlogPos ?? '';
        const r = await this.agents.for(this.node(step.candidateId)).call('wait_for_gtid', { gtid, timeoutSeconds: CATCH_UP_TIMEOUT_SECONDS });
        if (!r.reached) throw new AppError('TIMEOUT', `${step.candidateId} did not apply ${gtid} within ${CATCH_UP_TIMEOUT_SECONDS} s`);
        this.store.updateOperation({ phase: 'caught_up' });
        return;
      }
      case 'promote': {
        const s = this.store.service()!;
        const candidate = this.node(step.candidateId);
        const agent = this.agents.for(candidate);
        await agent.call('promote', {});
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
        await this.ensureAccounts(candidate, true);
        this.store.atomically(() => {
          this.store.updateNode(step.candidateId, { role: 'master' });
          this.store.updateNode(step.oldMasterId, { role: 'replica' });
          this.store.updateOperation({ phase: 'promoted' });
        });
        return;
      }
      case 'repoint': {
        const master = this.masterSource(this.node(step.masterId));
        await settleAll(step.ids.map((id) => this.agents.for(this.node(id)).call('configure_replica', { master })));
        this.store.updateOperation({ phase: 'repointed' });
        return;
      }
      case 'unfence':
        await this.agents.for(this.node(step.masterId)).call('set_read_only', { readOnly: false });
        this.store.updateOperation({ phase: 'aborted' });
        return;
      case 'attach': {
        const master = this.masterSource(this.node(step.masterId));
        const n = this.node(step.id);
        await this.agents.for(n).call('configure_replica', { master });
        await this.ensureAccounts(n, false);
        this.store.atomically(() => {
          this.store.updateNode(step.id, { role: 'replica' });
          this.store.updateOperation({ phase: 'attached' });
        });
        return;
      }
      case 'abort':
        this.store.atomically(() => {
          const op = this.store.operation();
          // The reason is kept with the operation, so a failing undo step does not hide it.
          this.store.updateOperation({ phase: 'aborting', attempts: 0, params: { ...(op?.params ?? {}), abortError: step.error } });
          this.store.updateService({ error: step.error });
        });
        return;
      case 'finish':
        this.store.atomically(() => {
          const op = this.store.operation();
          const aborted = op !== null && (op.phase === 'aborting' || op.phase === 'aborted');
          if (op) this.store.endOperation(aborted ? 'failed' : 'done', step.error ?? undefined);
          const patch: Partial<ServiceRecord> = { state: step.state, error: step.error };
          // A growth that was abandoned wants no more than what was made.
          if (aborted && (op.kind === 'add_nodes' || op.kind === 'startup')) {
            patch.desiredReplicas = this.store.nodes().filter((n) => n.role === 'replica' && n.status === 'ready').length;
          }
          if (op?.kind === 'failover' && !aborted && op.params['automatic'] === true) {
            patch.failoverBlockedUntil = new Date(Date.now() + this.options.failoverBlockSeconds * 1000).toISOString();
          }
          this.store.updateService(patch);
        });
        return;
      case 'begin_failover':
        this.beginInternal('failover', { oldMasterId: step.oldMasterId, automatic: true });
        return;
      case 'begin_replacement':
        this.beginInternal('add_nodes', { count: step.count, replacement: true });
        return;
      case 'fence_replicas': {
        const old = this.node(step.oldMasterId);
        await settleAll(step.ids.map((id) => this.agents.for(this.node(id)).call('stop_replica_io', {})));
        // Where the old master's agent still answers, it stops taking writes too.
        await this.agents
          .for(old)
          .call('set_read_only', { readOnly: true }, { timeoutMs: FENCE_TIMEOUT_MS })
          .catch(() => undefined);
        this.store.atomically(() => {
          this.store.updateNode(old.id, { status: 'failed' });
          this.store.updateOperation({ phase: 'fenced' });
        });
        return;
      }
      case 'drain':
        await settleAll(
          step.ids.map(async (id) => {
            const agent = this.agents.for(this.node(id));
            const st = await agent.call('get_status', {});
            const received = st.replication?.gtidIoPos ?? '';
            const r = await agent.call('wait_for_gtid', { gtid: received, timeoutSeconds: DRAIN_TIMEOUT_SECONDS });
            if (!r.reached) throw new AppError('TIMEOUT', `${id} did not apply its relay log (${received}) within ${DRAIN_TIMEOUT_SECONDS} s`);
          }),
        );
        this.store.updateOperation({ phase: 'drained' });
        return;
      case 'promote_failover': {
        const s = this.store.service()!;
        const candidate = this.node(step.candidateId);
        const agent = this.agents.for(candidate);
        await agent.call('promote', {});
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
        await this.ensureAccounts(candidate, true);
        this.store.atomically(() => {
          const op = this.store.operation();
          this.store.updateNode(step.candidateId, { role: 'master' });
          this.store.updateNode(step.oldMasterId, { role: 'replica', status: 'failed' });
          this.store.updateOperation({ phase: 'promoted', params: { ...(op?.params ?? {}), candidateId: step.candidateId, gtid: step.gtid } });
        });
        return;
      }
      case 'restart_master': {
        let n = this.node(step.id);
        if (step.recreate) {
          const c = await this.driver.createNode(n.id, await this.options.credentialsFor?.(n.id));
          this.store.updateNode(n.id, { host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, healthPort: c.healthPort });
          n = this.node(step.id);
        }
        const s = this.store.service()!;
        const agent = this.agents.for(n);
        await agent.call('init_server', { serverId: n.serverId });
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
        await this.ensureAccounts(n, true);
        return;
      }
      case 'restart_mysqld': {
        const n = this.node(step.id);
        await this.agents.for(n).call('init_server', { serverId: n.serverId });
        await this.ensureAccounts(n, false);
        return;
      }
      case 'rejoin': {
        const n = this.node(step.id);
        const agent = this.agents.for(n);
        await agent.call('set_read_only', { readOnly: true });
        await agent.call('configure_replica', { master: this.masterSource(this.node(step.masterId)) });
        await this.ensureAccounts(n, false);
        this.store.updateNode(n.id, { role: 'replica', status: 'rejoining' });
        return;
      }
      case 'mark_ready':
        this.store.updateNode(step.id, { status: 'ready' });
        return;
    }
  }
}

/** Runs every task to its end, then fails with the first error if any failed. */
async function settleAll(tasks: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
