import type { Engine } from '../engine/engine.js';
import type { Logger } from '../util/logger.js';
import type { AgentStateFile } from './agent-state.js';

/** How a lost master was fenced: made read-only, killed because it did not answer in time, or already down. */
export type FenceOutcome = 'read_only' | 'killed' | 'down';

/** Resolves true when `p` settles in time, false past `ms` (the promise is left to settle on its own). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fences this node's server as a lost master. The mark goes to disk first, so `/primary` answers
 * 503 at once and across an agent restart; then `read_only` is set within `deadlineMs`; a server
 * that does not answer by then (SIGSTOPped, hung on its disk) is killed, so it can never take a
 * write when it wakes up: it restarts read-only. Never waits on the agent's lock (an operation
 * stuck on the frozen server holds it).
 */
export async function fenceServer(engine: Engine, state: AgentStateFile, logger: Logger, deadlineMs: number): Promise<FenceOutcome> {
  await state.update({ fenced: true });
  if (engine.process().state !== 'running') return 'down';
  // A server already known not to answer is not waited for again.
  const ok = engine.serverAnswers() && (await within(engine.setReadOnly(true), deadlineMs).catch(() => false));
  if (ok) {
    // Its events stop too (a fenced master is no master); best effort, read_only already holds.
    await within(engine.setMasterRole(false), deadlineMs).catch(() => false);
    return 'read_only';
  }
  logger.warn({ deadlineMs }, 'fence: the server does not answer: killing it');
  await engine.kill();
  return 'killed';
}

/**
 * Keeps a fenced server read-only: a server that was frozen when it was fenced and answers again
 * (its `read_only` still off) is made read-only as soon as the agent sees it. Called with every
 * status read; does nothing unless the node is fenced and writable. True when it made it read-only.
 */
export async function holdFence(engine: Engine, state: AgentStateFile, logger: Logger, readOnly: boolean | null): Promise<boolean> {
  if (!state.get().fenced || readOnly !== false) return false;
  logger.warn('fenced server found writable: making it read-only');
  return engine.setReadOnly(true).then(
    () => true,
    (err: unknown) => {
      logger.warn({ err }, 'fence: could not make the server read-only');
      return false;
    },
  );
}
