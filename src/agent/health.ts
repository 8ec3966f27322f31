import Fastify, { type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import type { AgentStateFile } from './agent-state.js';

/**
 * Plain-HTTP health checks for load balancers (the Patroni convention), on a port of their
 * own: no credentials, no data, only whether this node should take writes or reads now.
 * - `GET /primary`: 200 only on the writable master;
 * - `GET /replica?lag=<seconds>`: 200 only on a replica whose replication runs within that lag;
 * - `GET /health`: 200 while mariadbd runs (503 before), with the agent's pid.
 */
export async function createHealthServer(engine: Engine, state: AgentStateFile): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, connectionTimeout: 5000, requestTimeout: 5000 });

  const look = async (): Promise<{ running: boolean; readOnly: boolean | null; io: string; sql: string; lag: number | null }> => {
    if (engine.process().state !== 'running') return { running: false, readOnly: null, io: 'No', sql: 'No', lag: null };
    try {
      const s = await engine.status();
      return { running: true, readOnly: s.readOnly, io: s.replication?.ioRunning ?? 'No', sql: s.replication?.sqlRunning ?? 'No', lag: s.replication?.secondsBehindMaster ?? null };
    } catch {
      return { running: false, readOnly: null, io: 'No', sql: 'No', lag: null };
    }
  };

  app.get('/primary', async (_req, reply) => {
    const s = await look();
    const ok = s.running && s.readOnly === false && state.get().role === 'master';
    return reply.code(ok ? 200 : 503).send({ primary: ok });
  });

  app.get('/replica', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const raw = typeof q['lag'] === 'string' ? Number(q['lag']) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(raw) || raw < 0) return reply.code(400).send({ error: "'lag' must be a number of seconds" });
    const s = await look();
    const ok = s.running && state.get().role === 'replica' && s.readOnly === true && s.io === 'Yes' && s.sql === 'Yes' && s.lag !== null && s.lag <= raw;
    return reply.code(ok ? 200 : 503).send({ replica: ok, lag: s.lag });
  });

  app.get('/health', async (_req, reply) => {
    const s = await look();
    // The agent's pid lets whoever started it (the local cloud driver) know it is the one answering.
    return reply.code(s.running ? 200 : 503).send({ running: s.running, agentPid: process.pid });
  });

  return app;
}
