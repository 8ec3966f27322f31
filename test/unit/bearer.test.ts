import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagerCredentials } from '../../src/app/credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'cps-bearer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the API token check (ManagerCredentials.checkBearer)', () => {
  const creds = new ManagerCredentials(dir);
  const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();

  it('makes a 43-character base64url token and accepts it as a bearer, with spaces around it', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(creds.checkBearer(`Bearer ${token}`)).toBe(true);
    expect(creds.checkBearer(`Bearer  ${token} `)).toBe(true);
  });

  it('refuses every other value: wrong, shorter, longer, a prefix, another case, another scheme, none, several', () => {
    const flip = (c: string): string => (c === 'a' ? 'b' : 'a');
    const wrongLast = token.slice(0, -1) + flip(token.slice(-1));
    const wrongFirst = flip(token[0]!) + token.slice(1);
    for (const header of [
      `Bearer ${wrongLast}`,
      `Bearer ${wrongFirst}`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, 10)}`,
      `Bearer ${token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()}`,
      `bearer ${token}`,
      `Basic ${token}`,
      token,
      'Bearer ',
      '',
      undefined,
      [`Bearer ${token}`, `Bearer ${token}`],
      // The same bytes' length in UTF-16 but not in UTF-8.
      `Bearer ${'é'.repeat(43)}`,
    ]) {
      expect(creds.checkBearer(header), String(header)).toBe(false);
    }
  });

  it('reads the same token again from the data directory (a restarted manager)', () => {
    expect(new ManagerCredentials(dir).checkBearer(`Bearer ${token}`)).toBe(true);
  });
});
