// Bundles the built CLI (dist/cli/main.js, from tsc) into one module and a few chunks, in place.
// Why: a new node's agent is a new Node process, and loading ~600 modules one by one (resolve,
// stat, read, compile) took most of its start-up: 0.79 s from spawn to its health check
// answering, 0.51 s bundled (measured 2026-12-07, 2 cores; bench item 1 and 3 break it down).
// The commands' lazy imports become chunks, so each process still loads only what it runs.
// Chunks go into dist/cli/ beside main.js: code that finds files next to its module
// (src/util/cli-entry.ts, the console's dist/ui: both one directory below dist/) resolves the same bundled or not.
import { build } from 'esbuild';
import { chmod, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli');
const BANNER = "import { createRequire as __cpsCreateRequire } from 'node:module'; const require = __cpsCreateRequire(import.meta.url);";
if ((await readFile(join(cli, 'main.js'), 'utf8')).includes('__cpsCreateRequire')) {
  throw new Error('dist/cli/main.js is bundled already: run tsc -p tsconfig.build.json first (npm run build)');
}
// A former build's chunks (their names change with their content).
for (const f of await readdir(cli)) if (/^chunk-.*\.js$/.test(f)) await rm(join(cli, f));
await build({
  entryPoints: { main: join(cli, 'main.js') },
  outdir: cli,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  // A native addon stays a package of its own, found in node_modules at run time.
  external: ['better-sqlite3'],
  // The CommonJS packages inside call require() for Node's own modules.
  banner: { js: BANNER },
  legalComments: 'none',
  // Stack traces can be read against src/ (node --enable-source-maps): esbuild follows tsc's maps.
  sourcemap: 'linked',
  logLevel: 'warning',
});
// Run through its #! line (its V8 flags), as the `cps-mysql` bin and scripts/demo.sh do.
await chmod(join(cli, 'main.js'), 0o755);
