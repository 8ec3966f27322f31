import type { Readable } from 'node:stream';
import type { LoadReport } from '../protocol/manager-api.js';
import type { NodeRecord, StateStore } from '../store/store.js';
import { messageOf } from '../util/errors.js';
import type { AgentDirectory } from './agent-port.js';
import { liveReplicas } from './core/model.js';

/** Seconds a replica has to apply a loaded dump before it is reported as not caught up. */
export const LOAD_CATCH_UP_SECONDS = 30;

/**
 * Loads a dump into the master as the service user, then checks every replica in service: it
 * must reach the master's position after the load and hold the same tables (`CHECKSUM TABLE` of
 * every base table of the databases the dump names). The answer says, per replica, "the same",
 * what differs, or why it was not checked; a difference is also an event. The checksums are
 * taken right after the load: writes to the loaded tables meanwhile can make them differ.
 */
export async function loadAndVerify(deps: { store: StateStore; agents: AgentDirectory }, master: NodeRecord, file: Readable, login: { user: string; password: string }): Promise<LoadReport> {
  const { store, agents } = deps;
  const r = await agents.for(master).loadDump(file, login);
  const replicas: Record<string, string> = {};
  if (r.schemas.length > 0) {
    const want = (await agents.for(master).call('checksum_tables', { schemas: r.schemas })).tables;
    const names = Object.keys(want);
    await Promise.all(
      liveReplicas(store.nodes()).map(async (n) => {
        try {
          const agent = agents.for(n);
          const caught = await agent.call('wait_for_gtid', { gtid: r.gtid, timeoutSeconds: LOAD_CATCH_UP_SECONDS });
          if (!caught.reached) {
            replicas[n.id] = `not checked: it had not applied the load (${r.gtid}) within ${LOAD_CATCH_UP_SECONDS} s`;
            return;
          }
          const got = (await agent.call('checksum_tables', { schemas: r.schemas })).tables;
          const differ = [...new Set([...names, ...Object.keys(got)])].filter((k) => got[k] !== want[k]);
          replicas[n.id] = differ.length === 0 ? `the same ${names.length} table${names.length === 1 ? '' : 's'} as the master` : `differs from the master: ${differ.slice(0, 20).join(', ')}`;
        } catch (err) {
          replicas[n.id] = `not checked: ${messageOf(err)}`;
        }
      }),
    );
  }
  const differing = Object.entries(replicas).filter(([, v]) => v.startsWith('differs'));
  store.addEvent(
    `dump of ${r.bytes} bytes (${r.statements} statements) loaded into the master${r.warnings.length > 0 ? `; ${r.warnings.length} kind${r.warnings.length === 1 ? '' : 's'} of statement left out or rewritten` : ''}${differing.length > 0 ? `; ${differing.map(([id, v]) => `${id} ${v}`).join('; ')}` : ''}`,
  );
  return { bytes: r.bytes, statements: r.statements, warnings: r.warnings, schemas: r.schemas, replicas };
}
