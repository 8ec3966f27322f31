import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ServiceNodeInfo } from '../../src/protocol/manager-api.js';
import type { Ctx } from '../lib/context.js';
import { duBytes, MiB } from '../lib/files.js';
import { BenchManager, masterOf, type NodeFiles } from '../lib/manager.js';
import { rows, withRoot } from '../lib/mysql.js';
import { WriteProbe, type Endpoint } from '../lib/probe.js';
import { runCmd } from '../lib/proc.js';
import { sbPrepare } from '../lib/sysbench.js';

/** The service the provisioning items share: a master holding the sysbench data set. */
export interface BigService {
  mgr: BenchManager;
  master: ServiceNodeInfo;
  masterFiles: NodeFiles;
  endpoint: Endpoint;
  user: string;
  password: string;
  /** A replication account for the 2011 method, which attaches a replica by hand. */
  repl: { user: string; password: string };
  /** A stopped, byte-identical copy of the master's data directory: the floor copies this. */
  seed: string;
  dataBytes: number;
  tableBytes: number;
}

export async function setUpBigService(ctx: Ctx): Promise<BigService> {
  const { config } = ctx;
  ctx.log('provisioning master: startup (default monitor interval)');
  const mgr = await BenchManager.create(ctx, 'big');
  const info = await mgr.startService(0);
  const master = masterOf(info);
  const files = mgr.nodeFiles(master.id);
  const password = await mgr.client.call('get_password', {});
  const endpoint = { host: master.ip, port: master.port };

  ctx.log(`generating data: sysbench oltp_common prepare, ${config.tables} tables × ${config.tableSize} rows`);
  await withRoot(files.socket, (c) => c.query('CREATE DATABASE IF NOT EXISTS sbtest'));
  const prepareMs = await sbPrepare({ socket: files.socket, db: 'sbtest' }, config.tables, config.tableSize, 2);

  const repl = { user: 'benchrepl', password: randomBytes(12).toString('hex') };
  await WriteProbe.prepare(endpoint, info.user, password);
  await withRoot(files.socket, async (c) => {
    await c.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [repl.user, repl.password]);
    await c.query("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO ?@'%'", [repl.user]);
    // The data set's binary log (as large as the data) is not part of what a replica needs:
    // drop it, so the floor copies the same data the snapshot carries.
    await c.query('FLUSH BINARY LOGS');
    const st = (await rows(c, 'SHOW MASTER STATUS'))[0];
    if (st) await c.query('PURGE BINARY LOGS TO ?', [String(st['File'])]);
  });
  const dataBytes = await duBytes(files.data);
  const tableBytes = await duBytes(join(files.data, 'sbtest'));
  ctx.log(`data: ${(tableBytes / MiB).toFixed(0)} MiB of tables, data directory ${(dataBytes / MiB).toFixed(0)} MiB; prepare took ${(prepareMs / 1000).toFixed(1)} s`);
  ctx.results.note(
    `Provisioning data set: sysbench oltp_common, ${config.tables} tables × ${config.tableSize} rows = ${(tableBytes / MiB).toFixed(0)} MiB of tables; ` +
      `the master's data directory is ${(dataBytes / MiB).toFixed(0)} MiB (binary logs of the load purged). Generated in ${(prepareMs / 1000).toFixed(1)} s.`,
  );

  // A stopped copy of the master's data directory, for the floor: the manager is stopped first
  // (nothing may react to the master being down), then the master's mariadbd, through its agent.
  ctx.log('taking a stopped copy of the master data directory for the floor');
  await mgr.stop();
  const agent = mgr.agentOf(master);
  const status = await agent.call('get_status', {});
  const serverId = status.serverId ?? 1;
  await agent.call('stop', {});
  const seed = join(ctx.root, 'seed');
  try {
    await runCmd('cp', ['-a', files.data, seed]);
  } finally {
    await agent.call('init_server', { serverId });
    await agent.call('set_read_only', { readOnly: false });
    await mgr.launch();
  }
  await mgr.waitIdle('RUNNING');
  return { mgr, master, masterFiles: files, endpoint, user: info.user, password, repl, seed, dataBytes, tableBytes };
}
