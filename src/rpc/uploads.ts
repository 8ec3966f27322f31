import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { MethodMap } from '../protocol/method.js';
import { AppError } from '../util/errors.js';
import { multipartError, parseId, parseJson, single, type Framing } from './framing.js';
import type { CallContext } from './server.js';
import { limitedFile } from './streams.js';

/** What the upload handler needs of the server it is part of. */
export interface UploadDeps<M extends MethodMap> {
  /** The server's method map. */
  methods: M;
  /** Runs a method once its name, params and verb are known. */
  dispatch: (reply: FastifyReply, framing: Framing, name: unknown, rawParams: unknown, verb: 'UPLOAD', ctx: CallContext) => Promise<void>;
  /** Answers an error (once) in the request's framing. */
  fail: (reply: FastifyReply, framing: Framing, err: unknown, method: string | null) => void;
  /** The context of a call, with its uploaded file. */
  ctxOf: (req: FastifyRequest, file: Readable | null) => CallContext;
  /** Uploads streamed at once; more are refused with BUSY. */
  maxUploads: number;
}

/**
 * The multipart route: fields first (`method`, optional `id` and `params`), then one file,
 * streamed to the method's handler; a form without a file is a method call like any other.
 */
export function uploadHandler<M extends MethodMap>(deps: UploadDeps<M>): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const { methods, dispatch, fail, ctxOf, maxUploads } = deps;
  let uploads = 0;
  return async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    // A Map: a field named like an Object.prototype member is just a name here.
    const fields = new Map<string, string>();
    const framing: Framing = { id: parseId(single(q['id']), true), v2: false };
    let method: string | null = typeof single(q['method']) === 'string' ? (single(q['method']) as string) : null;
    const readFields = (): void => {
      method = fields.get('method') ?? method;
      if (fields.has('id')) framing.id = parseId(fields.get('id'), true);
    };
    let handled = false;
    // A caller that goes away midway (its process killed, its host gone) may leave the form
    // unfinished without an error from the parser: the file being read then fails, so the
    // handler's work stops and releases what it holds instead of waiting forever.
    let current: Readable | null = null;
    const cutOff = (): void => {
      if (!req.raw.complete && current && !current.readableEnded) current.destroy(new AppError('PEER_FAILED', 'the upload was cut off: the caller went away before the file ended'));
    };
    req.raw.once('close', cutOff);
    try {
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          if (typeof part.value === 'string') fields.set(part.fieldname, part.value);
          continue;
        }
        readFields();
        // Wrapped at once, so a failure of the upload always has somewhere to go.
        const file = limitedFile(part.file);
        current = file;
        try {
          if (handled) throw new AppError('INVALID_PARAMS', 'only one file may be uploaded');
          const spec = method !== null && Object.hasOwn(methods, method) ? methods[method] : undefined;
          if (spec?.files && !spec.files.includes(part.fieldname)) {
            throw new AppError('INVALID_PARAMS', `${method}: unexpected file field '${part.fieldname.slice(0, 64)}' (expected ${spec.files.join(', ')})`);
          }
          const rawParams = fields.has('params') ? parseJson(fields.get('params'), 'params') : {};
          handled = true;
          if (uploads >= maxUploads) throw new AppError('BUSY', `too many uploads at once (${maxUploads}): try again when one has finished`);
          uploads++;
          try {
            await dispatch(reply, framing, method, rawParams, 'UPLOAD', ctxOf(req, file));
          } finally {
            uploads--;
          }
        } finally {
          // Whatever the handler did not read is drained, so the form can end.
          if (!file.readableEnded) file.destroy();
          part.file.resume();
        }
      }
      readFields();
      if (!handled) {
        if (method !== null && Object.hasOwn(methods, method) && methods[method]!.verb === 'UPLOAD') {
          throw new AppError('INVALID_PARAMS', `${method}: missing file field '${methods[method]!.files?.[0] ?? 'file'}'`);
        }
        await dispatch(reply, framing, method, {}, 'UPLOAD', ctxOf(req, null));
      }
    } catch (err) {
      fail(reply, framing, multipartError(err), method);
    } finally {
      req.raw.removeListener('close', cutOff);
    }
  };
}
