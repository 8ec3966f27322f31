import type { FastifyInstance, preParsingAsyncHookHandler } from 'fastify';
import { AppError } from '../util/errors.js';
import { poisoned } from './framing.js';

/**
 * How a server reads request bodies: JSON, strictly (valid UTF-8, no prototype-poisoning keys);
 * multipart is the upload plugin's where it is registered; anything else is refused as an
 * unsupported type. The time a body may take is each POST route's (bodyDeadline).
 */
export function installJsonBody(app: FastifyInstance): void {
  // Only JSON and multipart bodies are taken; anything else is refused as an unsupported type.
  app.removeContentTypeParser('text/plain');
  // JSON must be valid UTF-8: a byte that is not would otherwise become U+FFFD, and a password
  // set from it would not be the one sent.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    let text: string;
    try {
      // A leading byte-order mark is dropped, as fastify's own parser does.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body as Buffer);
    } catch {
      done(new AppError('PARSE_ERROR', 'the body is not valid UTF-8'), undefined);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      done(new AppError('PARSE_ERROR', 'malformed request body: it must be a JSON object {"method", "params", "id"}'), undefined);
      return;
    }
    if ((text.includes('__proto__') || text.includes('constructor')) && poisoned(value)) {
      done(new AppError('PARSE_ERROR', 'malformed request body: __proto__ and constructor.prototype keys are refused'), undefined);
      return;
    }
    done(null, value);
  });
}

/**
 * A route's `preParsing` hook: a JSON body that has not fully arrived `bodyTimeoutMs` after its
 * headers is cut off (the connection is destroyed); a multipart upload keeps the server's long
 * request timeout. Set on the routes that take a body only, so a GET pays no timer.
 */
export function bodyDeadline(bodyTimeoutMs: number): preParsingAsyncHookHandler {
  return async (req, _reply, payload) => {
    if (typeof req.isMultipart === 'function' && req.isMultipart()) return payload;
    const timer = setTimeout(() => req.raw.destroy(), bodyTimeoutMs);
    const clear = (): void => clearTimeout(timer);
    payload.once('end', clear);
    payload.once('close', clear);
    payload.once('error', clear);
    return payload;
  };
}
