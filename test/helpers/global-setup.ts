import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Integration tests run the built CLI; build it when a bare `vitest` is run without `npm test`:
 * the whole build (the console and the bundled, executable `dist/cli/main.js` that the tests
 * start through its #! line), not tsc alone.
 */
export default function setup(): void {
  if (!existsSync('dist/cli/main.js')) {
    execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  }
}
