import { liveReplicas, masterOf, type NodeView, type Snapshot } from './model.js';

/**
 * Named diagnoses of the master (after orchestrator's analysis names). The decision acts on
 * them; each comes with the facts its sentence needs.
 */
export type MasterDiagnosis =
  | { name: 'NoMaster' }
  | { name: 'MasterHealthy'; master: NodeView }
  | { name: 'MasterSuspect'; master: NodeView }
  | { name: 'MasterUnreachableFromManager'; master: NodeView; connected: string[] }
  | { name: 'DeadMaster'; master: NodeView; confirmedBy: string[]; byAgent: boolean }
  | { name: 'DeadMasterNoReplica'; master: NodeView }
  | { name: 'DeadMasterNoHealthyReplica'; master: NodeView; replicas: string[] };

/** Names the master's condition from the snapshot: the master in service (`ready`), its failed checks and its replicas' view of it. */
export function diagnoseMaster(s: Snapshot): MasterDiagnosis {
  const m = masterOf(s.nodes);
  if (!m || m.status !== 'ready') return { name: 'NoMaster' };
  const master = m;
  if (master.failedChecks === 0) return { name: 'MasterHealthy', master };
  if (master.failedChecks < s.failover.checks) return { name: 'MasterSuspect', master };
  const replicas = liveReplicas(s.nodes);
  if (replicas.length === 0) return { name: 'DeadMasterNoReplica', master };
  const witnesses = replicas.filter((r) => r.reachable && r.mysqlRunning);
  if (witnesses.length === 0) return { name: 'DeadMasterNoHealthyReplica', master, replicas: replicas.map((r) => r.id) };
  const confirmedBy = witnesses.map((r) => r.id);
  // Its own agent, on its host, answers and says the server does not (down, or frozen: no answer
  // within the agent's deadline, and no greeting on its port either): the manager's network is
  // not in doubt, and replicas still attached to a frozen server are not evidence it serves.
  if (master.reachable && !master.mysqlRunning) return { name: 'DeadMaster', master, confirmedBy, byAgent: true };
  // The manager alone may have lost the master: a replica still streaming from it says so.
  const connected = witnesses.filter((r) => r.ioRunning === 'Yes').map((r) => r.id);
  if (connected.length > 0) return { name: 'MasterUnreachableFromManager', master, connected };
  return { name: 'DeadMaster', master, confirmedBy, byAgent: false };
}
