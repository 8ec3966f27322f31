/** The service's states (DESIGN §3) and which methods each accepts. */
export const SERVICE_STATES = ['INIT', 'PROLOGUE', 'RUNNING', 'ADAPTING', 'EPILOGUE', 'STOPPED', 'ERROR'] as const;
/** A state of the service (docs/state-machine.md). */
export type ServiceState = (typeof SERVICE_STATES)[number];

/** States in which a method that needs a given state may run; methods absent here run in any state. */
export const ACCEPTED_STATES: Record<string, readonly ServiceState[]> = {
  startup: ['INIT', 'STOPPED'],
  add_nodes: ['RUNNING'],
  remove_nodes: ['RUNNING'],
  set_up_replica_master: ['RUNNING'],
  set_up_replica_slave: ['RUNNING', 'ERROR'],
  shutdown: ['RUNNING', 'ERROR'],
  set_password: ['RUNNING', 'ADAPTING'],
  sqldump: ['RUNNING', 'ADAPTING'],
  load_dump: ['RUNNING'],
  failover: ['RUNNING', 'ERROR'],
  retry: ['RUNNING', 'ERROR'],
  create_user: ['RUNNING', 'ADAPTING'],
  set_user_password: ['RUNNING', 'ADAPTING'],
  drop_user: ['RUNNING', 'ADAPTING'],
};

/** The sentence a client gets when it calls a method in the wrong state (as ConPaaS said it). */
export function wrongStateMessage(method: string, state: ServiceState): string {
  const accepted = ACCEPTED_STATES[method] ?? [];
  return `wrong state to ${method}: ${state} (accepted: ${accepted.join(', ')})`;
}
