import type { OperationKind, OperationOf } from '../../../protocol/operations.js';
import type { Decision, Snapshot, StepKind } from '../model.js';
import { attach } from './attach.js';
import { failover } from './failover.js';
import { grow } from './grow.js';
import { setPassword } from './set-password.js';
import { shrink } from './shrink.js';
import { shutdown } from './shutdown.js';
import { nextOfSpec, type OperationSpec } from './spec.js';
import { switchover } from './switchover.js';

/** Every operation's phase table, in the order docs/state-machine.md lists them. */
export const OPERATION_SPECS = [grow, shrink, switchover, attach, failover, setPassword, shutdown] as const;

/** The spec of a kind. */
export function specOf<K extends OperationKind>(kind: K): OperationSpec<K> {
  const spec = OPERATION_SPECS.find((s) => (s.kinds as readonly string[]).includes(kind));
  if (!spec) throw new Error(`no phase table for ${kind}`);
  return spec as unknown as OperationSpec<K>;
}

/** The next decision of an operation that is not being undone. */
export function nextPhase<K extends OperationKind>(s: Snapshot, op: OperationOf<K>): Decision {
  return nextOfSpec(specOf(op.kind), s, op);
}

/** The decision while an abandoned operation is undone. */
export function undoPhase<K extends OperationKind>(s: Snapshot, op: OperationOf<K>, error: string): Decision {
  return specOf(op.kind).abandon(s, op, error);
}

/** The phase the operation records once `step` succeeded, if it completes one. */
export function phaseAfter(kind: OperationKind, step: StepKind): string | null {
  return specOf(kind).records?.[step] ?? null;
}

/** How many failed attempts of its current step an operation takes before it is abandoned. */
export function attemptsAllowed<K extends OperationKind>(s: Snapshot, op: OperationOf<K>, standard: number): number {
  return specOf(op.kind).attemptsAllowed?.(s, op) ?? standard;
}
