import { z } from 'zod';
import { restorePlanSchema, type RestorePlan } from './restore.js';

/**
 * The operations the manager runs, one at a time (docs/state-machine.md): what the API records
 * as intent and the loop carries out phase by phase. The store keeps them as rows and checks
 * every row it reads against `operationSchema`, so the manager never sees an operation it does
 * not know. Types only: the phase tables that run them are in manager/core/operations/.
 */

const nodeId = z.string().min(1).max(64);

/** Phases a failed operation goes through while it is undone (common to every kind). */
export const ABORT_PHASES = ['aborting', 'aborted'] as const;
/** The phase of an operation that is being undone. */
export type AbortPhase = (typeof ABORT_PHASES)[number];

/** The recorded phases of each kind: the last phase completed, or null before the first. */
export const RECORDED_PHASES = {
  startup: [],
  add_nodes: [],
  remove_nodes: [],
  shutdown: ['archived'],
  switchover: ['fenced', 'caught_up', 'promoted', 'repointed'],
  attach: ['attached'],
  failover: ['fenced', 'chosen', 'drained', 'promoted', 'repointed'],
  set_password: [],
} as const;

/** The kinds of operation. */
export type OperationKind = keyof typeof RECORDED_PHASES;
/** Every kind, for iteration. */
export const OPERATION_KINDS = Object.keys(RECORDED_PHASES) as OperationKind[];

/** The phase an operation of kind K can be in. */
export type PhaseOf<K extends OperationKind> = (typeof RECORDED_PHASES)[K][number] | AbortPhase | null;

/** What each kind needs to know, fixed when it begins (or learnt in a phase, for failover's candidate). */
export interface ParamsByKind {
  /** A new service: the master and `desiredReplicas` replicas; with `restore`, the master is built from the backup store (issue #16). */
  startup: { restore?: RestorePlan };
  /** More replicas (asked for, or replacing lost ones: `replacement`). */
  add_nodes: { replacement: boolean };
  /** These replicas, marked `removing` when it began. */
  remove_nodes: { ids: string[] };
  /** Every node destroyed. */
  shutdown: Record<string, never>;
  /** A planned switchover (`set_up_replica_master`); `maxLagSeconds`: how far behind the candidate may be (default 5). */
  switchover: { candidateId: string; oldMasterId: string; maxLagSeconds?: number };
  /** `set_up_replica_slave`: the node (re)attached to the master. */
  attach: { id: string };
  /**
   * The master is lost (or there is none): promote a replica. `oldMasterId`: the master lost, if
   * any; `preferred`: a replica an operator named; `candidateId`: the one chosen, then promoted;
   * `gtid`: its position then; `excluded`: candidates given up (they could not apply what they
   * received); `force`: an operator accepts losing transactions; `lost`: what was given up.
   */
  failover: { oldMasterId: string | null; automatic: boolean; preferred?: string; candidateId?: string; gtid?: string; excluded?: string[]; force?: boolean; lost?: string };
  /** The service user's password changes (the new one waits in the service record, never here). */
  set_password: { user: string };
}

/** One operation as the decision reads it: its kind, parameters, phase and failed attempts. */
export type Operation = {
  [K in OperationKind]: {
    kind: K;
    params: ParamsByKind[K];
    /** The last phase completed (null: none yet), or `aborting`/`aborted` while it is undone. */
    phase: PhaseOf<K>;
    /** Failed attempts of the current step; reset when the operation starts being undone. */
    attempts: number;
    /** Why it is being undone (set when it is abandoned). */
    abortError: string | null;
  };
}[OperationKind];

/** The operation of one kind. */
export type OperationOf<K extends OperationKind> = Extract<Operation, { kind: K }>;

const base = { attempts: z.number().int().min(0), abortError: z.string().nullable() };
const phase = <P extends readonly string[]>(recorded: P) => z.enum([...recorded, ...ABORT_PHASES] as unknown as [string, ...string[]]).nullable();
const empty = z.object({}).strict();

/** The schema every stored operation is read through (store/sqlite-store.ts, test/fakes/memory-store.ts). */
export const operationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('startup'), params: z.object({ restore: restorePlanSchema.optional() }).strict(), phase: phase(RECORDED_PHASES.startup), ...base }).strict(),
  z.object({ kind: z.literal('add_nodes'), params: z.object({ replacement: z.boolean() }).strict(), phase: phase(RECORDED_PHASES.add_nodes), ...base }).strict(),
  z.object({ kind: z.literal('remove_nodes'), params: z.object({ ids: z.array(nodeId) }).strict(), phase: phase(RECORDED_PHASES.remove_nodes), ...base }).strict(),
  z.object({ kind: z.literal('shutdown'), params: empty, phase: phase(RECORDED_PHASES.shutdown), ...base }).strict(),
  z.object({ kind: z.literal('switchover'), params: z.object({ candidateId: nodeId, oldMasterId: nodeId, maxLagSeconds: z.number().int().min(0).max(86400).optional() }).strict(), phase: phase(RECORDED_PHASES.switchover), ...base }).strict(),
  z.object({ kind: z.literal('attach'), params: z.object({ id: nodeId }).strict(), phase: phase(RECORDED_PHASES.attach), ...base }).strict(),
  z
    .object({
      kind: z.literal('failover'),
      params: z
        .object({
          oldMasterId: nodeId.nullable(),
          automatic: z.boolean(),
          preferred: nodeId.optional(),
          candidateId: nodeId.optional(),
          gtid: z.string().max(4096).optional(),
          excluded: z.array(nodeId).optional(),
          force: z.boolean().optional(),
          lost: z.string().max(8192).optional(),
        })
        .strict(),
      phase: phase(RECORDED_PHASES.failover),
      ...base,
    })
    .strict(),
  z.object({ kind: z.literal('set_password'), params: z.object({ user: z.string().min(1).max(80) }).strict(), phase: phase(RECORDED_PHASES.set_password), ...base }).strict(),
]);

/** Reads an operation row: throws (zod's error, naming the field) for a row that is not a valid operation. */
export function parseOperation(row: unknown): Operation {
  return operationSchema.parse(row) as Operation;
}
