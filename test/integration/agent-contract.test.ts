import { RpcAgents } from '../../src/manager/agents.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { connectApp } from '../helpers/sql.js';
import { agentContract } from '../contract/agent.contract.js';

agentContract('the real agent (mariadbd)', async () => {
  const procs = await Promise.all([AgentProcess.start(), AgentProcess.start(), AgentProcess.start()]);
  const agents = new RpcAgents(null, 120_000);
  return {
    agents: procs.map((p, i) => agents.for({ id: `node-${i + 1}`, host: p.host, agentPort: p.port })),
    servers: procs.map((p) => ({ host: p.host, port: p.mysqlPort })),
    write: async (i, n, login) => {
      const c = await connectApp(procs[i]!.host, procs[i]!.mysqlPort, login.user, login.password);
      try {
        await c.query('CREATE DATABASE IF NOT EXISTS contract');
        await c.query('CREATE TABLE IF NOT EXISTS contract.t (id INT AUTO_INCREMENT PRIMARY KEY, at VARCHAR(40))');
        for (let k = 0; k < n; k++) await c.query('INSERT INTO contract.t (at) VALUES (?)', [new Date().toISOString()]);
      } finally {
        await c.end();
      }
    },
    crashServer: async (i) => {
      const pid = procs[i]!.mysqldPid();
      if (pid === null) throw new Error(`node ${i} has no server`);
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(10);
      // The agent sees its child die at once; give its exit handler a turn.
      await sleep(100);
    },
    freezeServer: async (i) => {
      const pid = procs[i]!.mysqldPid();
      if (pid === null) throw new Error(`node ${i} has no server`);
      process.kill(pid, 'SIGSTOP');
      return pid;
    },
    cleanup: () => stopAll(procs),
  };
});
