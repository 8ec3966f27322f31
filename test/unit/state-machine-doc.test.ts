import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeOperations, describeStates, withGenerated } from '../../src/manager/core/operations/describe.js';

describe('docs/state-machine.md says what the phase tables do', () => {
  it('holds the tables generated from the operations and the accepted states (npm run docs writes them)', () => {
    const doc = readFileSync('docs/state-machine.md', 'utf8');
    const regenerated = withGenerated(withGenerated(doc, 'states', describeStates()), 'operations', describeOperations());
    expect(doc).toBe(regenerated);
  });

  it('names every phase of every operation', () => {
    const doc = readFileSync('docs/state-machine.md', 'utf8');
    for (const phase of ['register', 'create', 'start_master', 'provision', 'fence', 'catch_up', 'promote', 'repoint', 'fence_replicas', 'drain', 'apply']) {
      expect(doc).toContain(`**${phase}**`);
    }
  });
});
