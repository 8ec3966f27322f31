import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudDriver, CloudNode } from '../../src/cloud/driver.js';

export interface CloudDriverHarness {
  driver: CloudDriver;
  /** Stops by pid everything the driver started, and removes what it wrote. */
  cleanup: () => Promise<void>;
  /** The node disappears from outside the driver, as if its machine were taken out of the cloud. */
  vanish: (id: string) => Promise<void>;
}

const INVALID_IDS = ['', '.', '..', '../escape', 'a/b', 'with space', 'x'.repeat(65), 'semi;colon', 'é'];

function expectPort(p: number): void {
  expect(Number.isInteger(p)).toBe(true);
  expect(p).toBeGreaterThanOrEqual(1);
  expect(p).toBeLessThanOrEqual(65535);
}

async function listedIds(driver: CloudDriver): Promise<string[]> {
  return (await driver.listNodes()).map((n) => n.id);
}

/** The contract every CloudDriver keeps (src/cloud/driver.ts), run on each implementation. */
export function cloudDriverContract(name: string, make: () => Promise<CloudDriverHarness>): void {
  describe(`CloudDriver contract: ${name}`, () => {
    let h: CloudDriverHarness;

    beforeAll(async () => {
      h = await make();
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it('creates a node with its id, a host and two distinct ports', async () => {
      const node = await h.driver.createNode('create-1');
      expect(node.id).toBe('create-1');
      expect(node.host).not.toBe('');
      expectPort(node.agentPort);
      expectPort(node.mysqlPort);
      expect(node.agentPort).not.toBe(node.mysqlPort);
    });

    it('gives nodes created side by side endpoints (address and port) that no other node uses', async () => {
      const nodes = await Promise.all(['ports-1', 'ports-2', 'ports-3'].map((id) => h.driver.createNode(id)));
      const others = (await h.driver.listNodes()).filter((n) => !n.id.startsWith('ports-'));
      const endpoints = [...nodes, ...others].flatMap((n) => [`${n.host}:${n.agentPort}`, `${n.host}:${n.mysqlPort}`]);
      expect(new Set(endpoints).size).toBe(endpoints.length);
    });

    it('returns the same node when the same id is created again, in turn or at once', async () => {
      const first = await h.driver.createNode('same-1');
      expect(await h.driver.createNode('same-1')).toEqual(first);
      const [a, b] = await Promise.all([h.driver.createNode('same-2'), h.driver.createNode('same-2')]);
      expect(a).toEqual(b);
      expect((await h.driver.listNodes()).filter((n) => n.id === 'same-2')).toEqual([a]);
    });

    it('lists the nodes it created and not the ones it destroyed', async () => {
      const kept = await h.driver.createNode('list-kept');
      const gone = await h.driver.createNode('list-gone');
      const before = await h.driver.listNodes();
      expect(before).toContainEqual(kept);
      expect(before).toContainEqual(gone);
      await h.driver.destroyNode('list-gone');
      const after = await h.driver.listNodes();
      expect(after).toContainEqual(kept);
      expect(after.map((n) => n.id)).not.toContain('list-gone');
    });

    it('accepts destroying an id it never created', async () => {
      await expect(h.driver.destroyNode('never-created')).resolves.toBeUndefined();
      expect(await listedIds(h.driver)).not.toContain('never-created');
    });

    it('accepts destroying a node twice', async () => {
      await h.driver.createNode('twice');
      await h.driver.destroyNode('twice');
      await expect(h.driver.destroyNode('twice')).resolves.toBeUndefined();
      expect(await listedIds(h.driver)).not.toContain('twice');
    });

    it('does not list a vanished node; it can be destroyed or created again', async () => {
      await h.driver.createNode('vanish-1');
      await h.driver.createNode('vanish-2');
      await h.vanish('vanish-1');
      await h.vanish('vanish-2');
      const ids = await listedIds(h.driver);
      expect(ids).not.toContain('vanish-1');
      expect(ids).not.toContain('vanish-2');
      await expect(h.driver.destroyNode('vanish-1')).resolves.toBeUndefined();
      expect(await listedIds(h.driver)).not.toContain('vanish-1');
      const again: CloudNode = await h.driver.createNode('vanish-2');
      expect(again.id).toBe('vanish-2');
      expect(await h.driver.listNodes()).toContainEqual(again);
    });

    it.each(INVALID_IDS.map((id) => [JSON.stringify(id).slice(0, 20), id]))('refuses the invalid id %s', async (_label, id) => {
      await expect(h.driver.createNode(id)).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
      await expect(h.driver.destroyNode(id)).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
      expect(await listedIds(h.driver)).not.toContain(id);
    });
  });
}
