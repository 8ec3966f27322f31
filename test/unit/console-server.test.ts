import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, registerConsole } from '../../src/app/console-routes.js';
import { ConsoleSessions, cookieValue, SESSION_TTL_MS, sessionCookie } from '../../src/app/console-sessions.js';

describe('console sessions', () => {
  it.each([
    ['cps_session=abc', 'abc'],
    ['a=1; cps_session=abc; b=2', 'abc'],
    ['a=1;cps_session=abc', 'abc'],
    ['cps_session_x=abc', null],
    ['cps_session', null],
    ['', null],
  ])('finds the cookie in %j', (header, want) => {
    expect(cookieValue(header, 'cps_session')).toBe(want);
  });

  it('a session lives until its end or its expiry; an unknown id is no session', () => {
    const s = new ConsoleSessions();
    const id = s.begin(1000);
    const cookie = `cps_session=${id}`;
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.live(cookie, 1000)).toBe(true);
    expect(s.live(`cps_session=${id}x`, 1000)).toBe(false);
    expect(s.live(undefined, 1000)).toBe(false);
    expect(s.live(cookie, 1000 + SESSION_TTL_MS)).toBe(false);
    const other = s.begin(2000);
    s.end(`cps_session=${other}`);
    expect(s.live(`cps_session=${other}`, 2000)).toBe(false);
  });

  it('the cookie is HttpOnly and SameSite=Strict, and over TLS Secure with the __Host- prefix', () => {
    expect(sessionCookie('x', false)).toBe(`cps_session=x; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`);
    expect(sessionCookie('x', true)).toBe(`__Host-cps_session=x; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}; Secure`);
    const tls = new ConsoleSessions(true);
    const id = tls.begin(0);
    expect(tls.live(`cps_session=${id}`, 0)).toBe(false);
    expect(tls.live(`__Host-cps_session=${id}`, 0)).toBe(true);
  });
});

describe('console routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cps-ui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const appWith = async (uiDir: string) => {
    const sessions = new ConsoleSessions();
    const app = Fastify();
    registerConsole(app, { sessions, tokenMatches: (t) => t === 'the-token', now: () => 5000, uiDir });
    await app.ready();
    return { app, sessions };
  };

  it('serves the page with a policy that allows no inline script, or 503 naming the build when it is not built', async () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    const { app } = await appWith(dir);
    const page = await app.inject({ method: 'GET', url: '/ui/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect((await app.inject({ method: 'GET', url: '/ui' })).headers['location']).toBe('/ui/');
    expect((await app.inject({ method: 'GET', url: '/favicon.ico' })).statusCode).toBe(204);
    const missing = await app.inject({ method: 'GET', url: '/ui/app.js' });
    expect(missing.statusCode).toBe(503);
    expect(missing.body).toContain('npm run build');
    await app.close();
  });

  it('logs in only with the token and the console header; logs out', async () => {
    const { app } = await appWith(dir);
    const post = (headers: Record<string, string>, payload: unknown) => app.inject({ method: 'POST', url: '/ui/session', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload) });
    expect((await post({}, { token: 'the-token' })).statusCode).toBe(403);
    const wrong = await post({ 'x-cps-console': '1' }, { token: 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await post({ 'x-cps-console': '1' }, { token: 42 })).json()).toMatchObject({ code: 'INVALID_PARAMS', error: "'token' must be the API token (a string)" });
    const ok = await post({ 'x-cps-console': '1' }, { token: 'the-token' });
    expect(ok.statusCode).toBe(204);
    const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
    expect(cookie).not.toContain('the-token');
    expect((await app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } })).json()).toEqual({ loggedIn: true });
    expect((await app.inject({ method: 'DELETE', url: '/ui/session', headers: { cookie } })).statusCode).toBe(403);
    const out = await app.inject({ method: 'DELETE', url: '/ui/session', headers: { cookie, 'x-cps-console': '1' } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } })).json()).toEqual({ loggedIn: false });
    await app.close();
  });
});
