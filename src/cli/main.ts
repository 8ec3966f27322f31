#!/usr/bin/env -S node --max-semi-space-size=2
// The #! line caps V8's young generation (2 MiB semi-spaces, 16 MiB by default): a manager under
// a storm of reads kept more RSS without it (peak 132–138 MiB without, 103–123 with, the same
// throughput: bench item 5 quick, 2026-12-07; 109 MiB in the full run). `cps-mysql`, the demo, the tests and the bench all start
// it through this line; `node dist/cli/main.js` does not read it.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerAgentCommand } from './agent-command.js';
import { registerManagerCommand } from './manager-command.js';
import { registerClientVerbs } from './client/verbs.js';
import { registerDemoCommand } from './demo-command.js';
import { registerUserCertCommand } from './user-cert-command.js';

// Output piped into a reader that stops early (`| head`): stop quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('cps-mysql')
  .description('ConPaaS MySQL: a replicated MariaDB service (manager, agents and client)')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((err) => {
    // Usage errors exit 2; --help and --version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

registerAgentCommand(program);
registerManagerCommand(program);
registerClientVerbs(program);
registerDemoCommand(program);
registerUserCertCommand(program);

await program.parseAsync(process.argv);
