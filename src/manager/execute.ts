import type { CloudDriver } from './ports.js';
import type { Step } from './core/model.js';
import type { StateStore, NodeRecord } from '../store/store.js';
import type { AgentClients } from './agents.js';
import { AppError } from '../util/errors.js';

/** How long a replica may take to apply what its master wrote during a switchover. */
export const CATCH_UP_TIMEOUT_SECONDS = 30;

/** Carries out one step the decision chose. Every step is safe to run again after a crash. */
export class Executor {
  constructor(
    private readonly store: StateStore,
    private readonly driver: CloudDriver,
    private readonly agents: AgentClients,
  ) {}

  private node(id: string): NodeRecord {
    const n = this.store.node(id);
    if (!n) throw new AppError('NOT_FOUND', `${id} is not in the registry`);
    return n;
  }

  private masterSource(master: NodeRecord): { host: string; port: number; user: string; password: string } {
    const s = this.store.service()!;
    return { host: master.host!, port: master.mysqlPort!, user: s.replUser, password: s.replPassword };
  }

  async run(step: Step): Promise<void> {
    switch (step.kind) {
      case 'register_nodes':
        this.store.atomically(() => {
          for (const n of step.nodes) this.store.insertNode({ ...n, status: 'creating', host: null, agentPort: null, mysqlPort: null });
          const next = Math.max(...step.nodes.map((n) => n.serverId)) + 1;
          if (next > this.store.service()!.nextSeq) this.store.updateService({ nextSeq: next });
        });
        return;
      case 'create_nodes':
        await settleAll(
          step.ids.map(async (id) => {
            const c = await this.driver.createNode(id);
            this.store.updateNode(id, { host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, status: 'created' });
          }),
        );
        return;
      case 'start_master': {
        const n = this.node(step.id);
        const s = this.store.service()!;
        const agent = this.agents.for(n);
        await agent.call('init_server', { serverId: n.serverId });
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
        await agent.call('set_password', { user: s.user, password: s.password });
        this.store.updateNode(n.id, { status: 'ready' });
        return;
      }
      case 'provision': {
        const master = this.node(step.masterId);
        await settleAll(
          step.ids.map(async (id) => {
            const n = this.node(id);
            await this.agents.for(n).call('provision_from', {
              source: { host: master.host!, port: master.agentPort! },
              master: this.masterSource(master),
              serverId: n.serverId,
            });
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
        const agent = this.agents.for(this.node(step.candidateId));
        await agent.call('promote', {});
        await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
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
        await this.agents.for(this.node(step.id)).call('configure_replica', { master });
        this.store.atomically(() => {
          this.store.updateNode(step.id, { role: 'replica' });
          this.store.updateOperation({ phase: 'attached' });
        });
        return;
      }
      case 'abort':
        this.store.atomically(() => {
          this.store.updateOperation({ phase: 'aborting' });
          this.store.updateService({ error: step.error });
        });
        return;
      case 'finish':
        this.store.atomically(() => {
          const op = this.store.operation();
          if (op) this.store.endOperation(op.phase === 'aborting' || op.phase === 'aborted' ? 'failed' : 'done', step.error ?? undefined);
          const replicas = this.store.nodes().filter((n) => n.role === 'replica' && n.status === 'ready').length;
          this.store.updateService({ state: step.state, error: step.error, ...(step.state === 'STOPPED' ? {} : { desiredReplicas: replicas }) });
        });
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
