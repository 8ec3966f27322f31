// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node modules that do I/O: the pure layers may not import them. */
const IO_MODULES = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:child_process', 'node:dgram', 'node:os', 'fs', 'net', 'http', 'child_process'];
const IO_LIBRARIES = ['fastify', '@fastify/*', 'mysql2', 'mysql2/*', 'better-sqlite3', 'pino'];

/** Builds a no-restricted-imports rule from layer names a file may not reach. */
function forbid(layers, extra = {}) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: (extra.paths ?? []).map((name) => ({ name, message: extra.message ?? 'this layer does no I/O' })),
        patterns: [
          ...layers.map((layer) => ({
            group: [`**/${layer}/*`, `**/${layer}/**`],
            message: `layer boundary (STYLE.md): this layer may not import ${layer}/`,
          })),
          ...(extra.patterns ?? []).map((group) => ({ group: [group], message: extra.message ?? 'this layer does no I/O' })),
        ],
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: 'error',
    },
  },
  // The wire contract: types and schemas only.
  { files: ['src/protocol/**'], rules: forbid(['rpc', 'agent', 'engine', 'manager', 'cli', 'store', 'cloud', 'app', 'config'], { paths: IO_MODULES, patterns: IO_LIBRARIES }) },
  // Utilities depend on no layer of the product.
  { files: ['src/util/**'], rules: forbid(['protocol', 'rpc', 'agent', 'engine', 'manager', 'cli', 'store', 'cloud', 'app', 'config']) },
  // Configuration is resolved from its sources alone.
  { files: ['src/config/**'], rules: forbid(['rpc', 'agent', 'engine', 'manager', 'cli', 'store', 'cloud', 'app']) },
  // The transport knows the contract, never what runs behind it.
  { files: ['src/rpc/**'], rules: forbid(['agent', 'engine', 'manager', 'cli', 'store', 'cloud', 'app', 'config']) },
  // The engine is the door to MariaDB; it knows nothing of agents, managers or the wire.
  { files: ['src/engine/**'], rules: forbid(['agent', 'manager', 'cli', 'rpc', 'store', 'cloud', 'app', 'config']) },
  // Only the agent imports the engine.
  { files: ['src/agent/**'], rules: forbid(['manager', 'cli', 'store', 'cloud', 'app']) },
  // The store keeps the service's records; it knows the contract, nothing that acts.
  { files: ['src/store/**'], rules: forbid(['rpc', 'agent', 'engine', 'manager', 'cli', 'cloud', 'app', 'config']) },
  { files: ['src/cli/**'], rules: forbid(['engine', 'store', 'manager']) },
  // Cloud drivers implement cloud/driver.ts and talk to agents; they know nothing of the manager.
  { files: ['src/cloud/**'], rules: forbid(['engine', 'agent', 'cli', 'store', 'manager', 'app', 'config']) },
  // The manager sees the cloud only through its interface (cloud/driver.ts); the composition root (app/) chooses the driver.
  {
    files: ['src/manager/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/engine/*', '**/agent/*', '**/cli/*', '**/app/*', '**/config/*'], message: 'layer boundary (STYLE.md): the manager may not import this layer' },
            { group: ['**/cloud/*', '**/cloud/**', '!**/cloud/driver.js'], message: 'layer boundary (STYLE.md): the manager sees only cloud/driver.ts' },
          ],
        },
      ],
    },
  },
  // The manager's decision core is pure: no I/O, no clocks (STYLE.md).
  {
    files: ['src/manager/core/**'],
    rules: forbid(['engine', 'agent', 'cli', 'rpc', 'store', 'cloud', 'app', 'config'], { paths: IO_MODULES, patterns: IO_LIBRARIES, message: 'the decision core is pure: no I/O' }),
  },
  // The web console speaks the wire contract only (the same typed API as the CLI); it runs in a browser.
  { files: ['ui/**'], rules: forbid(['rpc', 'agent', 'engine', 'manager', 'cli', 'store', 'cloud', 'app', 'config', 'util'], { paths: IO_MODULES, patterns: IO_LIBRARIES, message: 'the console runs in a browser' }) },
  { files: ['test/**', 'bench/**', 'scripts/**'], rules: { 'no-console': 'off' } },
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } } },
);
