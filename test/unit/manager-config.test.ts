import { describe, expect, it } from 'vitest';
import { resolveManagerConfig } from '../../src/config/manager-config.js';

describe('the manager configuration: the snapshot channel setting', () => {
  const base = { port: 8100, dataDir: '/tmp/x' };
  it.each([
    ['nothing said: the channel', {}, {}, true],
    ['a config file turns it off', { snapshotChannel: false }, {}, false],
    ['the command line turns it off', {}, { snapshotChannel: false }, false],
    ['the command line wins over the file', { snapshotChannel: false }, { snapshotChannel: true }, true],
  ] as const)('%s', (_name, file, flags, want) => {
    expect(resolveManagerConfig({ file: { ...base, ...file }, flags }).snapshotChannel).toBe(want);
  });

  it('refuses a value that is not a boolean, naming the setting', () => {
    expect(() => resolveManagerConfig({ file: { ...base, snapshotChannel: 'no' } })).toThrow(/snapshotChannel/);
  });
});
