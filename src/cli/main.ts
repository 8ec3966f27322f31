#!/usr/bin/env node
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
