import Fastify, { type FastifyInstance } from 'fastify';
import { splitAddress } from '../config/manager-config.js';
import { AppError } from '../util/errors.js';
import type { ServiceMetrics } from '../manager/metrics.js';

/**
 * The optional second listener of `--metrics-address`: `GET /metrics` only, without credentials
 * (the operator binds it to an interface only its Prometheus reaches), 404 for anything else.
 * Throws INVALID_PARAMS naming the address when it cannot listen there (taken, not an address of
 * this host).
 */
export async function startMetricsListener(address: string, metrics: ServiceMetrics): Promise<FastifyInstance> {
  const { host, port } = splitAddress(address, '--metrics-address');
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close().catch(() => undefined);
    throw new AppError('INVALID_PARAMS', `--metrics-address ${address}: cannot listen there (${(e as Error).message})`);
  }
  return app;
}
