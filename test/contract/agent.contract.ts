import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentPort } from '../../src/manager/agent-port.js';
import { parseGtidPosition, compareGtidPositions } from '../../src/protocol/gtid.js';

/** Three fresh nodes behind AgentPort, and what the contract needs to do around them. */
export interface AgentHarness {
  agents: AgentPort[];
  /** Where each node's server listens. */
  servers: Array<{ host: string; port: number }>;
  /** Commits `n` transactions on node `i` as an application with `login` would. */
  write(i: number, n: number, login: { user: string; password: string }): Promise<void>;
  /** Kills node `i`'s server (SIGKILL), its agent alive. */
  crashServer(i: number): Promise<void>;
  /** Freezes node `i`'s server (SIGSTOP): its sockets stay open, it answers nothing. Resolves to its pid (0 for a fake). */
  freezeServer(i: number): Promise<number>;
  cleanup(): Promise<void>;
}

const REPL = { user: 'repl', password: 'contract-repl-pw' };
const APP = { user: 'app', password: `contract "app" pw ${process.pid}` };

/**
 * The contract of an agent (protocol/agent-api.ts, docs/agent.md) as the manager relies on it,
 * run on the real agent (test/integration/agent-contract.test.ts) and on the fake one the
 * manager's unit tests use (test/contract/agent-fake.test.ts): the same calls give the same
 * results and the same error codes. The cases build on each other, in order.
 */
export function agentContract(name: string, make: () => Promise<AgentHarness>): void {
  describe(`AgentPort contract: ${name}`, () => {
    let h: AgentHarness;
    let a: AgentPort[];
    const source = (i: number): { host: string; port: number; user: string; password: string } => ({ ...h.servers[i]!, ...REPL });

    beforeAll(async () => {
      h = await make();
      a = h.agents;
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it('starts uninitialized, and refuses what needs a server', async () => {
      const s = await a[0]!.call('get_status', {});
      expect(s.mysqld.state).toBe('uninitialized');
      expect(s.role).toBe('none');
      await expect(a[0]!.call('promote', {})).rejects.toMatchObject({ code: 'WRONG_STATE' });
      await expect(a[0]!.call('configure_master', { replUser: REPL.user, replPassword: REPL.password })).rejects.toMatchObject({ code: 'WRONG_STATE' });
    });

    it('init_server starts a read-only server, again does nothing, another server id is refused', async () => {
      const started = await Promise.all(a.map((x, i) => x.call('init_server', { serverId: i + 1 })));
      for (const [i, s] of started.entries()) {
        expect(s.mysqld.state).toBe('running');
        expect(s.readOnly).toBe(true);
        expect(s.serverId).toBe(i + 1);
      }
      const again = await a[0]!.call('init_server', { serverId: 1 });
      expect(again.mysqld.pid).toBe(started[0]!.mysqld.pid);
      await expect(a[0]!.call('init_server', { serverId: 9 })).rejects.toMatchObject({ code: 'WRONG_STATE' });
    });

    it('configure_master makes a writable master; the service user is set on it only', async () => {
      const m = await a[0]!.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
      expect(m).toMatchObject({ role: 'master', readOnly: false, replication: null });
      expect(await a[0]!.call('set_password', APP)).toEqual({ user: APP.user });
      await expect(a[0]!.call('set_password', { user: 'root', password: 'x' })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
      await expect(a[1]!.call('set_password', APP)).rejects.toMatchObject({ code: 'WRONG_STATE' });
    });

    it('configure_replica follows the master read-only; a node cannot follow itself; a replica is not made a master', async () => {
      for (const i of [1, 2]) {
        const r = await a[i]!.call('configure_replica', { master: source(0) });
        expect(r.role).toBe('replica');
        expect(r.readOnly).toBe(true);
        expect(r.replication).toMatchObject({ masterHost: h.servers[0]!.host, masterPort: h.servers[0]!.port });
      }
      await expect(a[1]!.call('configure_replica', { master: source(1) })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
      await expect(a[1]!.call('configure_master', { replUser: REPL.user, replPassword: REPL.password })).rejects.toMatchObject({ code: 'WRONG_STATE' });
    });

    it("wait_for_gtid: a replica reaches what the master wrote; a position never written is not reached", async () => {
      await h.write(0, 3, APP);
      const m = await a[0]!.call('get_status', {});
      const at = m.gtid!.binlogPos;
      expect(parseGtidPosition(at)).not.toBeNull();
      for (const i of [1, 2]) {
        const w = await a[i]!.call('wait_for_gtid', { gtid: at, timeoutSeconds: 20 });
        expect(w.reached).toBe(true);
        expect(compareGtidPositions(parseGtidPosition(w.gtid.currentPos)!, parseGtidPosition(at)!)).toBe('equal');
      }
      const far = await a[1]!.call('wait_for_gtid', { gtid: '0-1-999999', timeoutSeconds: 1 });
      expect(far.reached).toBe(false);
      const s = await a[1]!.call('get_status', {});
      expect(s.replication).toMatchObject({ ioRunning: 'Yes', sqlRunning: 'Yes', lastIoError: '', lastSqlError: '' });
    });

    it('stop_replica_io: nothing more is received from the master', async () => {
      const s = await a[2]!.call('stop_replica_io', {});
      expect(s.replication?.ioRunning).toBe('No');
      await h.write(0, 1, APP);
      const at = (await a[0]!.call('get_status', {})).gtid!.binlogPos;
      expect((await a[2]!.call('wait_for_gtid', { gtid: at, timeoutSeconds: 1 })).reached).toBe(false);
      expect((await a[1]!.call('wait_for_gtid', { gtid: at, timeoutSeconds: 20 })).reached).toBe(true);
    });

    it('promote makes a replica a writable master with no replication; the old master can follow it', async () => {
      const p = await a[1]!.call('promote', {});
      expect(p).toMatchObject({ role: 'master', readOnly: false, replication: null });
      const again = await a[1]!.call('promote', {});
      expect(again).toMatchObject({ role: 'master', readOnly: false });
      await a[1]!.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
      await a[0]!.call('set_read_only', { readOnly: true });
      const demoted = await a[0]!.call('configure_replica', { master: source(1) });
      expect(demoted).toMatchObject({ role: 'replica', readOnly: true });
      await h.write(1, 2, APP);
      const at = (await a[1]!.call('get_status', {})).gtid!.binlogPos;
      expect((await a[0]!.call('wait_for_gtid', { gtid: at, timeoutSeconds: 20 })).reached).toBe(true);
    });

    it('set_read_only switches a server between read-only and writable', async () => {
      expect((await a[1]!.call('set_read_only', { readOnly: true })).readOnly).toBe(true);
      expect((await a[1]!.call('set_read_only', { readOnly: false })).readOnly).toBe(false);
    });

    it('ensure_accounts puts the accounts in place once; a second call changes nothing', async () => {
      const params = { replication: REPL, service: APP, isMaster: true };
      await a[1]!.call('ensure_accounts', params);
      expect(await a[1]!.call('ensure_accounts', params)).toEqual({ changed: {} });
      await expect(a[1]!.call('ensure_accounts', { ...params, service: { user: 'root', password: 'x' } })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    });

    it('a server killed from outside shows as crashed; init_server brings it back read-only', async () => {
      await h.crashServer(2);
      const s = await a[2]!.call('get_status', {});
      expect(s.mysqld.state).toBe('crashed');
      expect(s.readOnly).toBeNull();
      await expect(a[2]!.call('set_read_only', { readOnly: false })).rejects.toMatchObject({ code: 'WRONG_STATE' });
      const back = await a[2]!.call('init_server', { serverId: 3 });
      expect(back.mysqld.state).toBe('running');
      expect(back.readOnly).toBe(true);
    });

    it('fence makes a master that answers read-only at once and keeps it so until it is made a master again', async () => {
      expect(await a[1]!.call('fence', { deadlineMs: 1000 })).toEqual({ fenced: 'read_only' });
      expect((await a[1]!.call('get_status', {})).readOnly).toBe(true);
      // Made writable behind the fence's back: the agent puts read_only back as soon as it looks.
      await a[1]!.call('set_read_only', { readOnly: false });
      expect((await a[1]!.call('get_status', {})).readOnly).toBe(true);
      await a[1]!.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
      expect((await a[1]!.call('get_status', {})).readOnly).toBe(false);
    });

    it('a frozen server: the status says it does not answer, fence kills it, and init_server brings it back read-only', async () => {
      await h.freezeServer(2);
      const frozen = await a[2]!.call('get_status', {});
      expect(frozen.mysqld).toMatchObject({ state: 'running', answers: false });
      expect(await a[2]!.call('fence', { deadlineMs: 500 })).toEqual({ fenced: 'killed' });
      expect((await a[2]!.call('get_status', {})).mysqld.state).not.toBe('running');
      const back = await a[2]!.call('init_server', { serverId: 3 });
      expect(back).toMatchObject({ readOnly: true, mysqld: { state: 'running', answers: true } });
    });

    it('stop stops the server', async () => {
      const s = await a[2]!.call('stop', {});
      expect(s.mysqld.state).toBe('stopped');
      expect(s.mysqld.pid).toBeNull();
    });
  });
}
