import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Integration tests run the built CLI; build it when a bare `vitest` is run without `npm test`. */
export default function setup(): void {
  if (!existsSync('dist/cli/main.js')) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  }
}
