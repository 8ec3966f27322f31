import { fileURLToPath } from 'node:url';

/**
 * The path of the built CLI, `dist/cli/main.js`: what the local cloud spawns for each node's
 * agent. Resolved from this module, which is built one directory below `dist/` whether it stays
 * a file of its own (`dist/util/cli-entry.js`, from tsc) or goes into a chunk of the bundled CLI
 * (`dist/cli/chunk-*.js`, scripts/bundle-cli.mjs): `../cli/main.js` is the same file from both.
 */
export function cliEntryPath(): string {
  return fileURLToPath(new URL('../cli/main.js', import.meta.url));
}
