import { useState } from 'preact/hooks';
import type { ServiceInfo } from '../../../src/protocol/manager-api.js';
import { call, CallError, uploadDump } from '../api.js';
import { passwordProblem } from '../format.js';
import { Confirm } from './Confirm.js';

/** The action asked for, waiting for its confirmation. */
type Pending =
  | { kind: 'add' }
  | { kind: 'remove' }
  | { kind: 'switchover' }
  | { kind: 'failover' }
  | { kind: 'acknowledge' }
  | { kind: 'auto'; enabled: boolean }
  | { kind: 'password' }
  | { kind: 'load' };

/** What the last action did: sent and answered (the operation's progress then shows in the header), or refused. */
interface Outcome {
  ok: boolean;
  text: string;
}

/**
 * The operator's actions, each confirmed in a dialog: add replicas, remove one, switchover,
 * manual failover, acknowledge a failover block, automatic failover on/off, reset the password,
 * load a dump (upload with progress), download a dump. `changed` asks the page to read the
 * service again at once.
 */
export function Actions({ info, changed }: { info: ServiceInfo; changed: () => void }) {
  const replicas = info.nodes.filter((n) => n.role === 'replica' && n.status === 'ready').map((n) => n.id);
  const [pending, setPending] = useState<Pending | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [count, setCount] = useState(1);
  const [target, setTarget] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [uploaded, setUploaded] = useState<number | null>(null);
  /** A call of ours under way (a dump being uploaded and loaded is no operation of the manager's). */
  const [sending, setSending] = useState(false);
  const busy = info.operation !== null || sending;
  /** The replica the dialog names: it must still be one when the action is confirmed. */
  const gone = (pending?.kind === 'remove' || pending?.kind === 'switchover') && !replicas.includes(target);

  const open = (p: Pending) => {
    setTarget(replicas[0] ?? '');
    setPending(p);
  };
  const cancel = () => {
    setPending(null);
    setPassword('');
    setAgain('');
    setFile(null);
  };

  /** Sends an action; `fn` answers what to say when it succeeded, or nothing for "accepted". */
  const run = async (what: string, fn: () => Promise<string | void>) => {
    setPending(null);
    setSending(true);
    setOutcome({ ok: true, text: `${what}: sent` });
    try {
      const said = await fn();
      setOutcome({ ok: true, text: said ?? `${what}: accepted; its progress shows above` });
    } catch (err) {
      const e = err instanceof CallError ? err : new CallError('NETWORK', String(err));
      setOutcome({ ok: false, text: `${what} refused (${e.code}): ${e.message}` });
    } finally {
      setSending(false);
      changed();
    }
  };

  const confirm = () => {
    const p = pending;
    if (!p) return;
    switch (p.kind) {
      case 'add':
        return void run(`add ${count} replica${count === 1 ? '' : 's'}`, async () => void (await call('add_nodes', { slaves: count })));
      case 'remove':
        return void run(`remove ${target}`, async () => void (await call('remove_nodes', { serviceNodeId: target })));
      case 'switchover':
        return void run(`switchover to ${target}`, async () => void (await call('set_up_replica_master', { serviceNodeId: target })));
      case 'failover':
        return void run('manual failover', async () => void (await call('failover', {})));
      case 'acknowledge':
        return void run('acknowledge the failover', async () => `failover acknowledged: ${(await call('acknowledge_failover', {})).enabled ? 'automatic failover is on' : 'automatic failover is off'}`);
      case 'auto':
        return void run(`automatic failover ${p.enabled ? 'on' : 'off'}`, async () => `automatic failover is ${(await call('set_failover', { enabled: p.enabled })).enabled ? 'on' : 'off'}`);
      case 'password': {
        const pw = password;
        setPassword('');
        setAgain('');
        return void run('reset the password', async () => `the password of ${(await call('set_password', { password: pw })).user} was changed`);
      }
      case 'load': {
        const f = file;
        if (!f) return;
        setFile(null);
        setUploaded(0);
        return void run(`load ${f.name}`, async () => {
          try {
            const report = await uploadDump(f, setUploaded);
            return `loaded ${f.name}: ${report.statements} statements${report.warnings.length > 0 ? `; ${report.warnings.join('; ')}` : ''}`;
          } finally {
            setUploaded(null);
          }
        });
      }
    }
  };

  const picker = (
    <label>
      replica{' '}
      <select value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
        {replicas.map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
    </label>
  );
  const problem = pending?.kind === 'password' ? passwordProblem(password, again) : null;
  const goneNote = gone ? (
    <p class="error" role="alert">
      {target ? `${target} is no longer a replica in service: choose another.` : 'No replica is in service.'}
    </p>
  ) : null;

  return (
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => open({ kind: 'add' })}>
          Add replicas…
        </button>
        <button type="button" disabled={busy || replicas.length === 0} onClick={() => open({ kind: 'remove' })}>
          Remove a replica…
        </button>
        <button type="button" disabled={busy || replicas.length === 0} onClick={() => open({ kind: 'switchover' })}>
          Switchover…
        </button>
        <button type="button" disabled={busy} onClick={() => open({ kind: 'failover' })}>
          Manual failover…
        </button>
        {info.failover.blockedUntil ? (
          <button type="button" onClick={() => open({ kind: 'acknowledge' })}>
            Acknowledge failover…
          </button>
        ) : null}
        <button type="button" onClick={() => open({ kind: 'auto', enabled: !info.failover.enabled })}>
          Turn automatic failover {info.failover.enabled ? 'off' : 'on'}…
        </button>
        <button type="button" disabled={busy} onClick={() => open({ kind: 'password' })}>
          Reset password…
        </button>
        <button type="button" disabled={busy} onClick={() => open({ kind: 'load' })}>
          Load a dump…
        </button>
        <a class="button" href={`/?${new URLSearchParams({ method: 'sqldump', params: '{}' }).toString()}`} download="dump.sql">
          Download a dump
        </a>
      </div>
      {uploaded !== null ? <progress max={1} value={uploaded} aria-label="upload" /> : null}
      {outcome ? (
        <p class={outcome.ok ? 'outcome' : 'outcome error'} role={outcome.ok ? 'status' : 'alert'} data-testid="outcome">
          {outcome.text}
        </p>
      ) : null}

      {pending?.kind === 'add' ? (
        <Confirm title="Add replicas" confirmLabel="Add" onConfirm={confirm} onCancel={cancel}>
          <label>
            how many{' '}
            <input type="number" min={1} max={16} value={count} onInput={(e) => setCount(Math.max(1, Math.min(16, Number(e.currentTarget.value) || 1)))} />
          </label>
          <p>Each new replica is a copy of the master, then follows it.</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'remove' ? (
        <Confirm title="Remove a replica" confirmLabel="Remove" disabled={gone} onConfirm={confirm} onCancel={cancel}>
          {picker}
          {goneNote}
          <p>The replica stops taking reads, then its server and data are destroyed.</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'switchover' ? (
        <Confirm title="Switchover" confirmLabel="Switch over" disabled={gone} onConfirm={confirm} onCancel={cancel}>
          {picker}
          {goneNote}
          <p>Writes pause while the replica catches up (at most a few seconds), then it becomes the master; the old master follows it.</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'failover' ? (
        <Confirm title="Manual failover" confirmLabel="Fail over" onConfirm={confirm} onCancel={cancel}>
          <p>The master is fenced and the replica holding the most is promoted. Refused if that would lose acknowledged writes.</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'acknowledge' ? (
        <Confirm title="Acknowledge the failover" confirmLabel="Acknowledge" onConfirm={confirm} onCancel={cancel}>
          <p>Lifts the block that follows an automatic failover: the next failure may fail over at once.</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'auto' ? (
        <Confirm title={`Automatic failover ${pending.enabled ? 'on' : 'off'}`} confirmLabel={pending.enabled ? 'Turn on' : 'Turn off'} onConfirm={confirm} onCancel={cancel}>
          <p>{pending.enabled ? 'A master that fails its checks is replaced by a replica without asking.' : 'A failed master is only reported; you fail over by hand.'}</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'password' ? (
        <Confirm title="Reset the password" confirmLabel="Reset" disabled={problem !== null} onConfirm={confirm} onCancel={cancel}>
          <label>
            new password <input type="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <label>
            again <input type="password" autocomplete="new-password" value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
          </label>
          <p class={problem ? 'error' : 'muted'}>{problem ?? `The password of ${info.user} changes on every node.`}</p>
        </Confirm>
      ) : null}
      {pending?.kind === 'load' ? (
        <Confirm title="Load a dump" confirmLabel="Load" disabled={file === null} onConfirm={confirm} onCancel={cancel}>
          <label>
            SQL file <input type="file" accept=".sql,text/plain,application/sql" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </label>
          <p>It is loaded into the master as {info.user}; the replicas follow.</p>
        </Confirm>
      ) : null}
    </section>
  );
}
