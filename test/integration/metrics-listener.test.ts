import { describe, expect, it } from 'vitest';
import { startMetricsListener } from '../../src/app/metrics-listener.js';
import { resolveManagerConfig, splitAddress } from '../../src/config/manager-config.js';
import { serviceMetrics } from '../../src/manager/metrics.js';
import { isAppError } from '../../src/util/errors.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { freePort } from '../helpers/ports.js';

const metrics = () => serviceMetrics({ store: new MemoryStore(), latest: () => null, counterHistory: () => ({}), checks: () => ({ looks: 3, pollErrors: 0 }), refusals: () => ({}), version: 't', service: 'mysql' });

describe('--metrics-address: GET /metrics without the token, where the operator binds it', () => {
  it('serves the metrics and nothing else', async () => {
    const port = await freePort();
    const app = await startMetricsListener(`127.0.0.1:${port}`, metrics());
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('conpaas_checks_total{service="mysql"} 3');
      expect((await fetch(`http://127.0.0.1:${port}/?method=get_password&params=%7B%7D`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/ui/`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('a taken port is refused naming the flag', async () => {
    const port = await freePort();
    const first = await startMetricsListener(`127.0.0.1:${port}`, metrics());
    try {
      const err = await startMetricsListener(`127.0.0.1:${port}`, metrics()).catch((e: unknown) => e);
      expect(isAppError(err) && err.code).toBe('INVALID_PARAMS');
      expect((err as Error).message).toMatch(new RegExp(`^--metrics-address 127\\.0\\.0\\.1:${port}: cannot listen there`));
    } finally {
      await first.close();
    }
  });

  it.each([
    ['10.0.0.1:9104', { host: '10.0.0.1', port: 9104 }],
    ['[::1]:9104', { host: '::1', port: 9104 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
  ])('splits %s', (a, want) => expect(splitAddress(a, '--metrics-address')).toEqual(want));

  it.each(['10.0.0.1', ':9104', 'a b:1'])('the configuration refuses %j, naming the setting', (a) => {
    expect(() => resolveManagerConfig({ flags: { port: 1, dataDir: '/tmp/x', metricsAddress: a } })).toThrow(/^command line: metricsAddress: must be HOST:PORT/);
  });

  it.each(['10.0.0.1:0', '10.0.0.1:70000'])('a port out of range (%j) is refused before listening', (a) => {
    expect(() => splitAddress(a, '--metrics-address')).toThrow('--metrics-address: must be HOST:PORT with a port from 1 to 65535');
  });
});
