import { describe, expect, it } from 'vitest';
import { serviceInfo } from '../../src/manager/api-views.js';
import { okBody, withJson, type Framing } from '../../src/rpc/framing.js';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { ManagerHarness } from '../fakes/manager-harness.js';

/** What get_service_info would answer if built afresh now: the view must never differ from it. */
function fresh(h: ManagerHarness): ServiceInfo {
  return serviceInfo({ store: h.store, observer: h.observer, loop: h.loop, failoverChecks: 2, now: h.clock.now(), recoverable: null });
}

const info = (h: ManagerHarness): Promise<ServiceInfo> => h.call('get_service_info', {});

describe('get_service_info from the in-memory view (issue #17)', () => {
  it('answers the same frozen object until something it shows changes', async () => {
    const h = new ManagerHarness();
    await h.call('startup', { slaves: 1 });
    expect((await h.settle()).idle).toBe(true);
    const a = await info(h);
    const b = await info(h);
    expect(b).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.nodes[0]) && Object.isFrozen(a.events)).toBe(true);
    expect(a).toEqual(fresh(h));
    // A change through the API (the store) shows at once.
    await h.call('set_failover', { enabled: false });
    const c = await info(h);
    expect(c).not.toBe(a);
    expect(c.failover.enabled).toBe(false);
    expect(c).toEqual(fresh(h));
  });

  it('is never behind a fresh build, through every step of startup, add_nodes, a failover and remove_nodes', async () => {
    const h = new ManagerHarness();
    const check = async (when: string): Promise<void> => {
      expect(await info(h), when).toEqual(fresh(h));
    };
    await check('before startup');
    await h.call('startup', { slaves: 1 });
    await check('startup accepted');
    for (let i = 0; i < 12; i++) {
      await h.round();
      await check(`startup round ${i}`);
    }
    await h.call('add_nodes', { slaves: 1 });
    await check('add_nodes accepted');
    for (let i = 0; i < 12; i++) {
      await h.round();
      await check(`add_nodes round ${i}`);
    }
    h.cluster.crashServer('node-1');
    h.cluster.killAgent('node-1');
    for (let i = 0; i < 15; i++) {
      await h.round();
      await check(`failover round ${i}`);
    }
    const during = await info(h);
    expect(during.master).not.toBe(null);
    expect(during.events.some((e) => /promot/.test(e.message))).toBe(true);
    await h.call('remove_nodes', { slaves: 1 });
    for (let i = 0; i < 8; i++) {
      await h.round();
      await check(`remove_nodes round ${i}`);
    }
  });

  it('drops a failover block once it lapses, with nothing else changing', async () => {
    const h = new ManagerHarness();
    await h.call('startup', {});
    expect((await h.settle()).idle).toBe(true);
    h.store.updateService({ failoverBlockedUntil: new Date(h.clock.now() + 60_000).toISOString() });
    expect((await info(h)).failover.blockedUntil).not.toBeNull();
    h.clock.advance(61_000);
    expect((await info(h)).failover.blockedUntil).toBeNull();
    expect(await info(h)).toEqual(fresh(h));
  });
});

describe('an answer serialized once (withJson)', () => {
  it('writes the same bytes as serializing the object, in both envelopes and for every id', () => {
    const value = { state: 'RUNNING', nodes: [{ id: 'node-1', note: 'a "quoted" ünïcode\n' }], n: 1.5, none: null };
    const framings: Framing[] = [
      { id: 7, v2: false },
      { id: 'a"b', v2: false },
      { id: null, v2: false },
      { id: 7, v2: true },
      { id: 'x', v2: true },
    ];
    for (const f of framings) {
      const plain = JSON.stringify(okBody(f, structuredClone(value)));
      const marked = okBody(f, withJson(structuredClone(value), JSON.stringify(value)));
      expect(marked).toBe(plain);
    }
  });
});
