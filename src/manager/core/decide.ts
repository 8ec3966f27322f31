import { MAX_ATTEMPTS, type Decision, type Snapshot } from './model.js';
import { decideIdle } from './idle.js';
import { attemptsAllowed, nextPhase, undoPhase } from './operations/index.js';
import { isAre, list, them } from './words.js';

/**
 * The manager's brain: given what it knows now, the one next step and a sentence saying why
 * (STYLE.md: observe → decide → one step). Pure: the same snapshot always gives the same
 * decision. In order: nodes nobody registered are destroyed; an operation under way goes on
 * (or, after MAX_ATTEMPTS failures of a step, is abandoned and undone); without one, the
 * service is watched (idle.ts).
 */
export function decide(s: Snapshot): Decision {
  if (s.unknownNodes.length > 0) {
    return { reason: `${list(s.unknownNodes)} ${isAre(s.unknownNodes)} running but unknown to the registry: destroying ${them(s.unknownNodes)}`, step: { kind: 'destroy_unknown', ids: s.unknownNodes } };
  }
  const op = s.operation;
  if (!op) return decideIdle(s);
  if (op.phase === 'aborting' || op.phase === 'aborted') {
    const error = op.abortError ?? s.lastError ?? `${op.kind} failed`;
    if (op.attempts >= MAX_ATTEMPTS) {
      return { reason: `${op.kind} abandoned, and undoing it failed too`, step: { kind: 'finish', state: 'ERROR', error: `${error}; undoing it failed too: ${s.lastError ?? 'unknown error'}` } };
    }
    return undoPhase(s, op, error);
  }
  if (op.attempts >= attemptsAllowed(s, op, MAX_ATTEMPTS)) {
    const error = `${op.kind} failed after ${op.attempts} attempt${op.attempts === 1 ? '' : 's'}: ${s.lastError ?? 'unknown error'}`;
    return { reason: `${error}; abandoning it`, step: { kind: 'abort', error } };
  }
  return nextPhase(s, op);
}
