import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AgentApi } from '../protocol/agent-api.js';
import type { Handlers } from '../rpc/server.js';
import { AppError, isAppError } from '../util/errors.js';
import type { HandlerCore } from './handler-core.js';

/** What the restore handlers work with: the handlers' core, and where uploads are spooled. */
export interface RestoreDeps extends HandlerCore {
  /** Where uploads are spooled (the database OS user must read them): the instance's tmp directory. */
  spoolDir: string;
}

/**
 * `restore_backup` and `replay_binlog`: a service restored from the backup store (issue #16) gets
 * its master from these, the manager uploading a backup, then the archived binary logs.
 */
export function restoreHandlers(deps: RestoreDeps): Pick<Handlers<AgentApi>, 'restore_backup' | 'replay_binlog'> {
  const { engine, state, logger } = deps;
  return {
    restore_backup: async (params, ctx) => {
      const file = ctx.file;
      if (!file) throw new AppError('INVALID_PARAMS', "restore_backup: missing file field 'backup'");
      const restored = await deps.lock.run('restore_backup', async () => {
        if (engine.isInitialized()) {
          file.resume();
          throw new AppError('WRONG_STATE', 'wrong state to restore_backup: this node already holds data (accepted: a new node; wipe it first)');
        }
        const stage = { part: params.part ?? 'full', last: params.last ?? true };
        if (stage.part === 'full') await state.update({ serverId: params.serverId, settings: params.settings ?? {}, role: 'none' });
        const settings = deps.settingsOf(params.serverId, params.settings ?? {});
        const started = Date.now();
        const { gtid, bytes } = await engine.restoreSnapshot(file as Readable, settings, stage);
        if (stage.last) {
          // Its binary log goes on from the backup's position: replayed transactions, then its own.
          await engine.adoptGtidPosition(gtid);
          await state.update({ restoredGtid: gtid });
        }
        logger.info({ bytes, gtid, part: stage.part, last: stage.last, ms: Date.now() - started }, 'restored a backup');
        return { restoredGtid: gtid, bytes };
      });
      return { ...(await deps.status()), ...restored };
    },

    replay_binlog: async (params, ctx) => {
      const file = ctx.file;
      if (!file) throw new AppError('INVALID_PARAMS', "replay_binlog: missing file field 'binlog'");
      if (params.stop !== null && params.stop <= params.start) {
        file.resume();
        throw new AppError('INVALID_PARAMS', `replay_binlog: stop (${params.stop}) must come after start (${params.start})`);
      }
      return deps.lock.run('replay_binlog', async () => {
        if (engine.process().state !== 'running') {
          file.resume();
          throw new AppError('WRONG_STATE', `wrong state to replay_binlog: mariadbd is ${engine.process().state} (accepted: running)`);
        }
        // Spooled whole first: mariadb-binlog reads a file, and a truncated upload replays nothing.
        const spool = join(deps.spoolDir, `replay-${randomBytes(8).toString('hex')}.000001`);
        let bytes = 0;
        file.on('data', (c: Buffer) => (bytes += c.length));
        try {
          try {
            await pipeline(file, createWriteStream(spool, { mode: 0o600 }));
          } catch (err) {
            if (isAppError(err)) throw err;
            throw new AppError('INVALID_PARAMS', `replay_binlog: the upload did not complete (${bytes} bytes received): ${(err as Error).message}`, { cause: err });
          }
          const gtid = await engine.replayBinlog(spool, params.start, params.stop);
          logger.info({ bytes, start: params.start, stop: params.stop, gtid }, 'binary log replayed');
          return { gtid, bytes };
        } finally {
          await rm(spool, { force: true });
        }
      });
    },
  };
}
