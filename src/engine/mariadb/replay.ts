import { PassThrough } from 'node:stream';
import { AppError } from '../../util/errors.js';
import { runAs } from '../../util/os-user.js';
import { lastLines, run, spawnOutput } from '../../util/proc.js';
import type { ToolContext } from './logical.js';
import { programs } from './programs.js';

/**
 * Applies the transactions of one binary log file, bytes `[start, stop)` (stop null: to the end),
 * to this instance: `mariadb-binlog --start-position=START [--stop-position=STOP] FILE` piped into
 * `mariadb` over the socket as the database OS user's admin account. The statements carry their
 * GTIDs (`SET gtid_seq_no`, `server_id`) and timestamps, so the server binlogs them as they were.
 * `start` must be the offset of a transaction's first event (4 for a file's first), `stop` the end
 * of one. The file must be readable by the database OS user. Throws ENGINE_FAILED naming the
 * program and its error when either fails (what was applied before the failure stays applied).
 */
export async function replayBinlogFile(ctx: ToolContext, file: string, start: number, stop: number | null): Promise<void> {
  const args = [`--start-position=${start}`, ...(stop !== null ? [`--stop-position=${stop}`] : []), '--', file];
  const reader = spawnOutput(programs.binlog, args, runAs(ctx.dbUser));
  let readError: Error | null = null;
  // The client reads until the reader ends; a reader that fails ends its input too.
  const input = new PassThrough();
  reader.stream.on('error', (e) => {
    readError = e;
    input.end();
  });
  reader.stream.pipe(input);
  try {
    await run(programs.client, [`--defaults-file=${ctx.layout.cnf}`, `--user=${ctx.dbUser.name}`, `--socket=${ctx.layout.socket}`, '--batch', '--local-infile=0'], {
      stdin: input,
      failure: (stderr) => new AppError('ENGINE_FAILED', `replaying ${file}: mariadb failed: ${lastLines(stderr, 3)}`),
      ...runAs(ctx.dbUser),
    });
  } finally {
    reader.child.kill('SIGKILL');
  }
  if (readError !== null) throw new AppError('ENGINE_FAILED', `replaying ${file}: ${(readError as Error).message}`);
}
