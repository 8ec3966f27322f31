import type { FastifyInstance } from 'fastify';
import { AppError } from '../util/errors.js';
import { poisoned } from './framing.js';

/**
 * How a server reads request bodies: JSON, strictly (valid UTF-8, no prototype-poisoning keys),
 * and within `bodyTimeoutMs` of its headers; multipart is the upload plugin's where it is
 * registered; anything else is refused as an unsupported type.
 */
export function installJsonBody(app: FastifyInstance, bodyTimeoutMs: number): void {
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
  // A JSON body that trickles in is cut off; uploads keep the long request timeout. A callback
  // hook that returns at once for GET and HEAD (no body): it runs on every request, and a timer,
  // three listeners and a promise per read cost the manager's CPU under load (issue #17).
  app.addHook('preParsing', (req, _reply, payload, done) => {
    if (req.method === 'GET' || req.method === 'HEAD' || (typeof req.isMultipart === 'function' && req.isMultipart())) {
      done(null, payload);
      return;
    }
    const timer = setTimeout(() => req.raw.destroy(), bodyTimeoutMs);
    const clear = (): void => clearTimeout(timer);
    payload.once('end', clear);
    payload.once('close', clear);
    payload.once('error', clear);
    done(null, payload);
  });
}
