import type { NodeHistory, ServiceInfo, ServiceNodeInfo } from '../../../src/protocol/manager-api.js';
import { ago, bytes, diskShare } from '../format.js';

/** One row per node, the master first: role, address, status, agent, server, replication, disk. */
export function Topology({ info, history, now }: { info: ServiceInfo; history: NodeHistory[]; now: number }) {
  const order = (n: ServiceNodeInfo) => (n.role === 'master' ? 0 : 1);
  const nodes = [...info.nodes].sort((a, b) => order(a) - order(b) || a.id.localeCompare(b.id, 'en', { numeric: true }));
  const extra = new Map(history.map((h) => [h.id, h]));
  return (
    <section aria-labelledby="topology-title">
      <h2 id="topology-title">Topology</h2>
      <div class="table-wrap">
        <table class="topology" data-testid="topology">
          <thead>
            <tr>
              <th scope="col">node</th>
              <th scope="col">role</th>
              <th scope="col">address</th>
              <th scope="col">version</th>
              <th scope="col">status</th>
              <th scope="col">agent</th>
              <th scope="col">mariadbd</th>
              <th scope="col">read_only</th>
              <th scope="col">semi-sync</th>
              <th scope="col">IO / SQL</th>
              <th scope="col">lag</th>
              <th scope="col">GTID</th>
              <th scope="col">disk</th>
              <th scope="col">condition</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => {
              const h = extra.get(n.id);
              // The file system's share in use (by this node's data and anything else on it).
              const share = h?.disk ? diskShare(h.disk.sizeBytes - h.disk.freeBytes, h.disk.freeBytes) : null;
              const r = n.replication;
              return (
                <tr key={n.id} data-node={n.id} data-role={n.role} data-status={n.status} class={n.role === 'master' ? 'master' : n.servesReads ? 'serving' : 'not-serving'}>
                  <th scope="row">{n.id}</th>
                  <td>{n.role === 'master' ? 'master' : `replica of ${r ? `${r.masterHost}:${r.masterPort}` : '—'}`}</td>
                  <td>
                    {n.ip}:{n.port}
                  </td>
                  <td>{h?.version ? h.version.replace(/-log$/, '') : '—'}</td>
                  <td>{n.status}</td>
                  <td>{n.lastSeen ? `seen ${ago(n.lastSeen, now)}` : 'not seen'}</td>
                  <td>{n.isRunningMySQL ? 'running' : 'down'}</td>
                  <td>{n.readOnly === null ? '—' : n.readOnly ? 'ON' : 'OFF'}</td>
                  <td>{n.role === 'master' ? (h?.semiSyncClients === null || h?.semiSyncClients === undefined ? '—' : `${h.semiSyncClients} replica${h.semiSyncClients === 1 ? '' : 's'} acknowledge`) : r ? 'acknowledges' : '—'}</td>
                  <td>{r ? `${r.ioRunning} / ${r.sqlRunning}` : '—'}</td>
                  <td>{r ? (r.secondsBehindMaster === null ? '—' : `${r.secondsBehindMaster} s`) : '—'}</td>
                  <td>
                    <code>{n.gtidPosition ?? '—'}</code>
                  </td>
                  <td>
                    {h?.disk ? (
                      <span title={`binary logs ${bytes(h.disk.binlogBytes)}, relay logs ${bytes(h.disk.relayLogBytes)}, file system ${bytes(h.disk.sizeBytes)}`}>
                        {bytes(h.disk.dataBytes)} used, {bytes(h.disk.freeBytes)} free
                        {share !== null ? <meter min={0} max={1} high={0.9} value={share} aria-label="file system in use" /> : null}
                      </span>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    {n.diagnosis ?? '—'}
                    {r?.lastError ? <div class="error">{r.lastError}</div> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
