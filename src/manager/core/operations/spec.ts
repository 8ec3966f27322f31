import { RECORDED_PHASES, type OperationKind, type OperationOf } from '../../../protocol/operations.js';
import type { Decision, Snapshot, StepKind } from '../model.js';

/**
 * One phase of an operation (after mariadb-operator's switchover.go: an operation is an ordered
 * table of named phases). `decide` is pure: from the snapshot and the operation, the decision
 * that carries the phase out, or null when nothing is left to do in it.
 */
export interface Phase<K extends OperationKind> {
  /** Its name, as docs/state-machine.md lists it. */
  readonly name: string;
  /** What it does, in words (docs/state-machine.md is generated from these). */
  readonly does: string;
  /** The decision that carries the phase out, or null when it is done. */
  decide(s: Snapshot, op: OperationOf<K>): Decision | null;
}

/** An operation: its phases in order, how it ends, and how it is undone when abandoned. */
export interface OperationSpec<K extends OperationKind> {
  /** The operation kinds it runs. */
  readonly kinds: readonly K[];
  /** The API method(s) that begin it, or who does, for the documentation. */
  readonly begunBy: string;
  /** Its phases, in order. */
  readonly phases: ReadonlyArray<Phase<K>>;
  /** The decision once every phase is done (a `finish`). */
  done(s: Snapshot, op: OperationOf<K>): Decision;
  /** How it ends, in words. */
  readonly ends: string;
  /** The next decision while it is undone (`op.phase` is `aborting` or `aborted`); `error` is why it was abandoned. */
  abandon(s: Snapshot, op: OperationOf<K>, error: string): Decision;
  /** How it is undone, in words. */
  readonly undoes: string;
  /** The recorded phase each step completes (`fence` → `fenced`): what the executor records after it. */
  readonly records?: Partial<Record<StepKind, string>>;
  /**
   * How many failed attempts of the current step it takes before the operation is abandoned
   * (default MAX_ATTEMPTS). One where a retry would hold something blocked (a switchover's
   * write block) or where another way exists (another failover candidate).
   */
  attemptsAllowed?(s: Snapshot, op: OperationOf<K>): number;
}

/** True when the operation recorded `phase`, or a later one of its kind. */
export function reached<K extends OperationKind>(op: OperationOf<K>, phase: (typeof RECORDED_PHASES)[K][number]): boolean {
  const order = RECORDED_PHASES[op.kind] as readonly string[];
  return op.phase !== null && order.indexOf(op.phase) >= order.indexOf(phase);
}

/** The decision of an operation that is not being undone: its first phase with something to do, else its end. */
export function nextOfSpec<K extends OperationKind>(spec: OperationSpec<K>, s: Snapshot, op: OperationOf<K>): Decision {
  for (const phase of spec.phases) {
    const d = phase.decide(s, op);
    if (d) return d;
  }
  return spec.done(s, op);
}
