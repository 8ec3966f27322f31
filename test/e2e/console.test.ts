import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, sleep } from '../../src/util/proc.js';
import { killAndWait } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { onMaster, pidsOf } from '../helpers/nodes.js';
import { connectApp } from '../helpers/sql.js';

/** Debian's chromium (installed by scripts/setup.mjs); playwright-core downloads no browser. */
const CHROMIUM = '/usr/bin/chromium';
/** Screenshots go here (gitignored); the README's image is copied from the 1280 px one. */
const SHOTS = resolve('test-artifacts/console');

/**
 * The web console served by the manager, driven by a real Chromium: the login with the API
 * token, the session cookie, the topology, actions from the page (add a replica, a switchover),
 * a failover seen live, the security headers, and both widths the page is made for.
 */
describe('the web console in a real browser', () => {
  let m: ManagerProcess;
  let server: BrowserServer;
  let browser: Browser;
  let page: Page;
  let loading = true;
  let load: Promise<void> = Promise.resolve();

  /** A client writing and reading on the master (whichever it is) every 50 ms until the end, so the charts have lines. */
  const writeAndRead = async (): Promise<void> => {
    const password = await m.client.call('get_password', {});
    let i = 0;
    while (loading) {
      try {
        const master = (await m.info()).master;
        if (!master) throw new Error('no master');
        const [host, port] = master.split(':');
        const c = await connectApp(host!, Number(port), 'mysqldb', password);
        try {
          await c.query('CREATE TABLE IF NOT EXISTS chart_load.t (id INT PRIMARY KEY, at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3))');
          for (let n = 0; loading && n < 200; n++) {
            await c.query('INSERT INTO chart_load.t (id) VALUES (?)', [++i]);
            await c.query('SELECT COUNT(*) FROM chart_load.t');
            await sleep(50);
          }
        } finally {
          await c.end().catch(() => undefined);
        }
      } catch {
        await sleep(200); // a switchover or a failover under way: the next master takes the load
      }
    }
  };

  const rows = () => page.locator('[data-testid="topology"] tbody tr');
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const nodeAddress = async (id: string): Promise<string> => {
    const n = (await m.info()).nodes.find((x) => x.id === id)!;
    return `${n.ip}:${n.port}`;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    m = await ManagerProcess.start({ monitorMs: 500 });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    await onMaster(m, await m.client.call('get_password', {}), (c) => c.query('CREATE DATABASE chart_load'));
    load = writeAndRead();
    // As root, Chromium runs only without its sandbox; the page is our own.
    server = await chromium.launchServer({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    browser = await chromium.connect(server.wsEndpoint());
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    loading = false;
    await load;
    await browser?.close().catch(() => undefined);
    const pid = server?.process().pid;
    await server?.close().catch(() => undefined);
    if (pid !== undefined && isAlive(pid)) await killAndWait([pid]);
    await m?.cleanup();
  });

  it('sends a browser at / to the console, with a policy that allows no inline script, and refuses a wrong token', async () => {
    const res = await page.goto(m.url);
    expect(page.url()).toBe(`${m.url}ui/`);
    const csp = res!.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res!.headers()['x-frame-options']).toBe('DENY');
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('not the API token');
    expect(await page.context().cookies()).toEqual([]);
  });

  it('logs in with the token: an HttpOnly, SameSite=Strict session, then the service with its three nodes and their roles', async () => {
    await page.getByLabel('API token').fill(m.token);
    await page.getByLabel('API token').press('Enter');
    await expect.poll(() => page.getByTestId('state').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookie!.value).not.toContain(m.token);
    expect(page.url()).not.toContain(m.token);
    await expect.poll(() => rows().count()).toBe(3);
    expect(await rows().evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-node')}:${tr.getAttribute('data-role')}`))).toEqual(['node-1:master', 'node-2:replica', 'node-3:replica']);
    expect(await page.getByTestId('master').textContent()).toBe(await nodeAddress('node-1'));
    expect(await page.getByTestId('connect-command').textContent()).toBe(`mariadb -h ${(await nodeAddress('node-1')).replace(':', ' -P ')} -u mysqldb -p`);
    // The charts come with the history (a few checks).
    await expect.poll(() => page.getByTestId('charts').locator('canvas').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
  });

  it('refuses a state-changing call that carries the session cookie but not the console header (a forged cross-site request)', async () => {
    const [cookie] = await page.context().cookies();
    const forged = await fetch(m.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `${cookie!.name}=${cookie!.value}` },
      body: JSON.stringify({ method: 'set_failover', params: { enabled: false }, id: 1 }),
    });
    expect(forged.status).toBe(401);
    expect((await m.info()).failover.enabled).toBe(true);
    const read = await fetch(`${m.url}?method=list_nodes&params=%7B%7D`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(read.status).toBe(200);
  });

  it('adds a replica from the page, keyboard only, and shows it until it is ready', async () => {
    await page.getByRole('button', { name: 'Add replicas…' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // Escape cancels; nothing is sent.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    expect((await m.info()).operation).toBeNull();
    await page.getByRole('button', { name: 'Add replicas…' }).focus();
    await page.keyboard.press('Enter');
    await dialog.getByRole('button', { name: 'Add' }).click();
    await expect.poll(() => page.getByTestId('operation').textContent(), { timeout: 10_000 }).toContain('add_nodes');
    await expect.poll(() => page.locator('[data-testid="topology"] tbody tr[data-node="node-4"]').getAttribute('data-status'), { timeout: 120_000 }).toBe('ready');
    await expect.poll(() => page.getByTestId('operation').count(), { timeout: 30_000 }).toBe(0);
    expect(await page.getByTestId('events').textContent()).toContain('node-4');
  });

  it('switches over to a chosen replica from the page', async () => {
    const target = await nodeAddress('node-2');
    await page.getByRole('button', { name: 'Switchover…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('combobox').selectOption('node-2');
    await dialog.getByRole('button', { name: 'Switch over' }).click();
    await expect.poll(() => page.getByTestId('master').textContent(), { timeout: 60_000 }).toBe(target);
    await expect.poll(() => page.getByTestId('state').textContent(), { timeout: 60_000 }).toBe('RUNNING');
    expect(await rows().first().getAttribute('data-node')).toBe('node-2');
  });

  it("shows a failover live when the master's processes are killed", async () => {
    const { agent, mysqld } = pidsOf(m, 'node-2');
    const before = await page.getByTestId('master').textContent();
    const killedAt = Date.now();
    await killAndWait([agent, mysqld]);
    await expect.poll(() => page.getByTestId('events').textContent(), { timeout: 60_000 }).toMatch(/failover/i);
    await expect.poll(async () => {
      const now = await page.getByTestId('master').textContent();
      return now !== before && now !== 'none';
    }, { timeout: 60_000 }).toBe(true);
    process.stdout.write(`master killed → new master on the page: ${Date.now() - killedAt} ms\n`);
    await shot('console-after-failover');
    // The README's picture (docs/images/console.png is copied from it), once the charts hold a
    // few of their 5 s steps and the next history was read.
    await sleep(6000);
    await page.mouse.move(0, 0);
    await shot('console-1280');
  });

  it('is readable at 390 px wide: nothing wider than the screen but the topology table, which scrolls in its box', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('console-390');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('logs out: the session ends and the API refuses its cookie', async () => {
    const [cookie] = await page.context().cookies();
    await page.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => page.getByLabel('API token').isVisible()).toBe(true);
    const res = await fetch(`${m.url}?method=list_nodes&params=%7B%7D`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(res.status).toBe(401);
  });
});
