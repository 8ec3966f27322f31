/**
 * Property-based fuzzing of an agent's JSON-RPC API (issue #5, "bad input").
 *
 * One real agent (plain HTTP, as AgentProcess starts it), its mariadbd initialised and
 * configured as a master, receives N random hostile requests (test/fuzz/arbitraries.ts) for every
 * method of `agentApi`; each answer is judged against docs/protocol.md (test/fuzz/oracle.ts).
 * Afterwards the agent must be up and its server as before: same role, read-only flag, server
 * id, state, the same mariadbd process, no transaction written (same GTID), nothing loaded.
 *
 *   N = 500 by default (every method aimed at more than once), with a fixed seed (CI).
 *   CPS_MYSQL_FUZZ_RUNS=5000   the long run (about a minute on two cores: 2000 runs take ~25 s);
 *   CPS_MYSQL_FUZZ_SEED=<int>  another seed (a failure prints the seed and path to replay it).
 *
 *   npx tsc -p tsconfig.build.json && CPS_MYSQL_FUZZ_RUNS=5000 npx vitest run test/fuzz/agent-fuzz.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentApi, type AgentStatus } from '../../src/protocol/agent-api.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { connectApp, scalar } from '../helpers/sql.js';
import { MARKER_DB } from './arbitraries.js';
import { rpcCall, sendRaw, type RawRequest, type RawResponse } from './http.js';
import { sleep } from '../../src/util/proc.js';
import { fuzzSettings } from './oracle.js';
import { fuzzServer } from './run.js';

const { runs, seed } = fuzzSettings(500);

/** An account of our own on the agent's server, to look inside it afterwards. */
const CHECK_USER = 'fuzzcheck';
const CHECK_PASSWORD = `fuzz-${Math.random().toString(36).slice(2)}`;

interface AgentSnapshot {
  role: string;
  readOnly: boolean | null;
  serverId: number | null;
  mysqld: string;
  pid: number | null;
  gtid: string | null;
  busy: string | null;
}


describe('agent: hostile requests get clear errors and change nothing', () => {
  let a: AgentProcess;
  let base: string;
  let before: AgentSnapshot;
  let mysqldPid: number | null;

  const call = (method: string, params: unknown = {}): Promise<unknown> => rpcCall(base, method, params, {}, 300_000);
  const send = (req: RawRequest): Promise<RawResponse> => sendRaw(base, req);

  const snapshot = async (): Promise<AgentSnapshot> => {
    const s = (await call('get_status')) as AgentStatus;
    return { role: s.role, readOnly: s.readOnly, serverId: s.serverId, mysqld: s.mysqld.state, pid: s.mysqld.pid, gtid: s.gtid?.currentPos ?? null, busy: s.busy };
  };

  beforeAll(async () => {
    a = await AgentProcess.start();
    base = a.client.url;
    await call('init_server', { serverId: 1 });
    await call('configure_master', { replUser: 'repl', replPassword: `repl-${CHECK_PASSWORD}` });
    await call('set_password', { user: CHECK_USER, password: CHECK_PASSWORD });
    before = await snapshot();
    mysqldPid = a.mysqldPid();
    expect(before).toMatchObject({ role: 'master', readOnly: false, serverId: 1, mysqld: 'running', busy: null });
    expect(mysqldPid).not.toBeNull();
  }, 300_000);

  afterAll(async () => {
    await a?.stop();
  });

  it(`answers ${runs} hostile requests (seed ${seed}) with a JSON-RPC error, never 5xx, never a hang`, async () => {
    await fuzzServer({ label: 'agent', methods: agentApi, send, logs: () => a.logs, seed, runs });
  }, 120_000 + runs * 1_000);

  it('is still up, the same master, read-write, server id 1, the same mariadbd, nothing written', async () => {
    expect(a.child?.exitCode).toBeNull();
    expect(a.child?.signalCode).toBeNull();
    expect(await snapshot()).toEqual(before);
    expect(a.mysqldPid()).toBe(mysqldPid);
  });

  it('loaded nothing from the uploads cut short', async () => {
    const c = await connectApp(a.host, a.mysqlPort, CHECK_USER, CHECK_PASSWORD);
    try {
      expect(await scalar(c, 'SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [MARKER_DB])).toBe(0);
    } finally {
      await c.end();
    }
  });
});

/**
 * The agent's side of a bug pinned in manager-fuzz.test.ts (same transport): `it.fails` while
 * open; when the fix lands this passes, vitest reports it, and the `.fails` and the bug's entry in
 * KNOWN_BUGS (test/fuzz/oracle.ts) go. On a throwaway agent, which it kills today.
 */
describe('agent: server bugs found by fuzzing, fixed and pinned', () => {
  let t: AgentProcess;

  beforeAll(async () => {
    t = await AgentProcess.start();
  });
  afterAll(async () => {
    await t?.stop();
  });

  // Fix: see the same test in manager-fuzz.test.ts (rpc/server.ts limitedFile and handleUpload).
  it('truncated-file-part-kills-the-process: a load_dump cut short inside its file, refused for the state, leaves the agent up', async () => {
    // A well-formed login, so the call gets as far as the state check (the agent loads dumps as the service user).
    const params = '--B\r\nContent-Disposition: form-data; name="params"\r\n\r\n{"user":"app","password":"pw"}\r\n';
    const body = `--B\r\nContent-Disposition: form-data; name="method"\r\n\r\nload_dump\r\n${params}--B\r\nContent-Disposition: form-data; name="mysqldump_file"; filename="d.sql"\r\n\r\nSELECT 1;`;
    const res = await sendRaw(t.client.url, { verb: 'POST', path: '/', headers: { 'content-type': 'multipart/form-data; boundary=B' }, body: Buffer.from(body) });
    expect((JSON.parse(res.body.toString('utf8')) as { code: string }).code).toBe('WRONG_STATE');
    await sleep(500);
    expect(t.child?.exitCode).toBeNull();
    await expect(rpcCall(t.client.url, 'check_agent_process', {}, {}, 5_000)).resolves.toMatchObject({ ok: true });
  });
});
