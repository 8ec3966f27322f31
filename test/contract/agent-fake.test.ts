import { FakeCluster } from '../fakes/fake-cluster.js';
import { agentContract } from './agent.contract.js';

agentContract('FakeAgent', async () => {
  const cluster = new FakeCluster();
  const nodes = await Promise.all(['node-1', 'node-2', 'node-3'].map((id) => cluster.createNode(id)));
  return {
    agents: nodes.map((n) => cluster.for(n)),
    servers: nodes.map((n) => ({ host: n.host, port: n.mysqlPort })),
    write: async (i, n) => {
      if (cluster.write(nodes[i]!.id, n) !== n) throw new Error(`node ${i} did not take ${n} writes`);
    },
    crashServer: async (i) => cluster.crashServer(nodes[i]!.id),
    freezeServer: async (i) => {
      cluster.freezeServer(nodes[i]!.id);
      return 0;
    },
    cleanup: async () => undefined,
  };
});
