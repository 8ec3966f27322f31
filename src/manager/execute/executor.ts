import { AppError, isAppError, messageOf } from '../../util/errors.js';
import type { Decision, Step, StepKind } from '../core/model.js';
import { phaseAfter } from '../core/operations/index.js';
import type { StepContext, StepHandler } from './context.js';
import { nodeHandlers } from './nodes.js';
import { pitrHandlers } from './pitr.js';
import { recoveryHandlers } from './recovery.js';
import { repairHandlers } from './repairs.js';
import { replicationHandlers } from './replication.js';
import { serviceHandlers } from './service.js';

/** Every step kind's handler, by family. */
const HANDLERS = { ...nodeHandlers, ...replicationHandlers, ...recoveryHandlers, ...repairHandlers, ...serviceHandlers, ...pitrHandlers } satisfies { [K in StepKind]: StepHandler<K> };

/** A step that failed; its message names the step (`catch_up failed: …`), its code is the cause's. */
export class StepFailure extends AppError {
  constructor(step: StepKind, cause: unknown) {
    super(isAppError(cause) ? cause.code : 'INTERNAL', `${step} failed: ${messageOf(cause)}`, { cause });
    this.name = 'StepFailure';
  }
}

/**
 * Carries out the step a decision chose. No policy and no clock here: what to do and every change
 * to the service come with the decision; the phase the step completes comes from the
 * operation's phase table. The handler's store writes and the new phase commit together.
 * Every step is safe to run again after a crash. Throws StepFailure.
 */
export class Executor {
  constructor(private readonly ctx: StepContext) {}

  /** Carries out the decision's step (nothing for none). Throws StepFailure naming the step. */
  async run(decision: Decision): Promise<void> {
    const step = decision.step;
    if (!step) return;
    try {
      const handler = HANDLERS[step.kind] as (c: StepContext, s: Step, d: Decision) => ReturnType<StepHandler<StepKind>>;
      const commit = await handler(this.ctx, step, decision);
      const { store } = this.ctx;
      store.atomically(() => {
        // The operation as it was before the step (the step may end it, or begin one).
        const op = store.operation();
        commit?.();
        const phase = op ? phaseAfter(op.kind, step.kind) : null;
        if (phase !== null && store.operation()?.id === op!.id) store.updateOperation({ phase });
      });
    } catch (err) {
      throw new StepFailure(step.kind, err);
    }
  }
}
