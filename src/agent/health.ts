import Fastify, { type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import type { AgentStateFile } from './agent-state.js';

/** How old a health answer may be: checks read a status refreshed at most this often. */
export const HEALTH_MAX_AGE_MS = 1000;
/** Connections the health server holds at once; more are refused until one closes. */
export const HEALTH_MAX_CONNECTIONS = 64;

interface Look {
  running: boolean;
  readOnly: boolean | null;
  io: string;
  sql: string;
  lag: number | null;
}

/**
 * The server's state for health checks, read through the engine's kept connection at most once
 * per `maxAgeMs` however many checks arrive (they share one read in flight), so a flood of checks
 * costs the server nothing and never takes a connection an application needs.
 */
export class HealthView {
  private cached: { at: number; look: Look } | null = null;
  private inflight: Promise<Look> | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly maxAgeMs = HEALTH_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The server as health checks see it: at most `maxAgeMs` old, one read shared by checks that arrive together. */
  async look(): Promise<Look> {
    if (this.engine.process().state !== 'running') return { running: false, readOnly: null, io: 'No', sql: 'No', lag: null };
    if (this.cached && this.now() - this.cached.at < this.maxAgeMs) return this.cached.look;
    this.inflight ??= this.read().finally(() => (this.inflight = null));
    return this.inflight;
  }

  /** Forgets the cached status: the agent just changed the server (promoted it, made it read-only…). */
  invalidate(): void {
    this.cached = null;
  }

  private async read(): Promise<Look> {
    let look: Look;
    try {
      const s = await this.engine.status();
      look = { running: true, readOnly: s.readOnly, io: s.replication?.ioRunning ?? 'No', sql: s.replication?.sqlRunning ?? 'No', lag: s.replication?.secondsBehindMaster ?? null };
    } catch {
      look = { running: false, readOnly: null, io: 'No', sql: 'No', lag: null };
    }
    this.cached = { at: this.now(), look };
    return look;
  }
}

/**
 * Plain-HTTP health checks for load balancers (the Patroni convention), on a port of their
 * own: no credentials, no data, only whether this node should take writes or reads now.
 * - `GET /primary`: 200 only on the writable master (never on one a failover fenced);
 * - `GET /replica?lag=<seconds>`: 200 only on a replica whose replication runs within that lag;
 * - `GET /health`: 200 while mariadbd runs (503 before), with the agent's pid.
 * Answers are at most `HEALTH_MAX_AGE_MS` old; at most `HEALTH_MAX_CONNECTIONS` connections are served at once.
 */
export async function createHealthServer(view: HealthView, state: AgentStateFile): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, connectionTimeout: 5000, requestTimeout: 5000 });
  app.server.maxConnections = HEALTH_MAX_CONNECTIONS;

  app.get('/primary', async (_req, reply) => {
    const s = await view.look();
    const ok = s.running && s.readOnly === false && state.get().role === 'master' && !state.get().fenced;
    return reply.code(ok ? 200 : 503).send({ primary: ok });
  });

  app.get('/replica', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const raw = typeof q['lag'] === 'string' ? Number(q['lag']) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(raw) || raw < 0) return reply.code(400).send({ error: "'lag' must be a number of seconds" });
    const s = await view.look();
    const ok = s.running && state.get().role === 'replica' && s.readOnly === true && s.io === 'Yes' && s.sql === 'Yes' && s.lag !== null && s.lag <= raw;
    return reply.code(ok ? 200 : 503).send({ replica: ok, lag: s.lag });
  });

  app.get('/health', async (_req, reply) => {
    const s = await view.look();
    // The agent's pid lets whoever started it (the local cloud driver) know it is the one answering.
    return reply.code(s.running ? 200 : 503).send({ running: s.running, agentPid: process.pid });
  });

  return app;
}
