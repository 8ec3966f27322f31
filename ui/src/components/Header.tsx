import type { ServiceInfo } from '../../../src/protocol/manager-api.js';
import { ago, duration } from '../format.js';

/** The service at a glance: state, master, replicas, the operation under way and its step, failover, diagnosis. */
export function Header({ info, now, lastAnswer }: { info: ServiceInfo; now: number; lastAnswer: number | null }) {
  const ready = info.nodes.filter((n) => n.role === 'replica' && n.status === 'ready').length;
  const op = info.operation;
  return (
    <section class="header" aria-label="service">
      <div class="badges">
        <span class={`state state-${info.state.toLowerCase()}`} data-testid="state">{info.state}</span>
        <span>master <strong data-testid="master">{info.master ?? 'none'}</strong></span>
        <span>
          replicas <strong>{ready}</strong> of {info.desiredReplicas}
        </span>
        <span>
          automatic failover <strong>{info.failover.enabled ? 'on' : 'off'}</strong>
          {info.failover.blockedUntil ? ` · blocked until ${new Date(info.failover.blockedUntil).toLocaleTimeString()}` : ''}
        </span>
        <span class="muted">updated {lastAnswer === null ? '—' : ago(new Date(lastAnswer).toISOString(), now)}</span>
      </div>
      {op ? (
        <p class="operation" role="status" data-testid="operation">
          <strong>{op.kind}</strong> under way for {duration(now - Date.parse(op.startedAt))}
          {op.step ? `: ${op.step}` : ''}
        </p>
      ) : null}
      {info.diagnosis ? <p class="diagnosis" data-testid="diagnosis">{info.diagnosis}</p> : null}
      {info.error ? (
        <p class="error" role="alert">
          last operation failed: {info.error}
        </p>
      ) : null}
    </section>
  );
}
