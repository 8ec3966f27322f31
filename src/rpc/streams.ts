import type { FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { AppError } from '../util/errors.js';

/** A method's answer when it is a byte stream rather than JSON. */
export interface StreamResult {
  /** Marks a stream answer. */
  readonly kind: 'stream';
  /** The bytes. */
  readonly stream: Readable;
  /** Its Content-Type (default application/octet-stream). */
  readonly contentType?: string;
  /** The file name offered to a browser. */
  readonly filename?: string;
}

/** Wraps a stream as a method's answer. */
export function streamResult(stream: Readable, options?: { contentType?: string; filename?: string }): StreamResult {
  return { kind: 'stream', stream, ...options };
}

/** The subject of the caller's verified TLS client certificate (short names: CN, role, UID…; its serial as `#serial`), or null. */
export function peerSubjectOf(req: FastifyRequest): Readonly<Record<string, string>> | null {
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  const subject = cert.subject as unknown as Record<string, string | string[]> | undefined;
  if (!subject) return null;
  // A name given twice comes as a list: the first one counts. The serial (hex, upper case) comes as `#serial`.
  return { ...Object.fromEntries(Object.entries(subject).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v)])), '#serial': String(cert.serialNumber ?? '').toUpperCase() };
}

/** The common name of the caller's verified TLS client certificate, or null. */
export function peerOf(req: FastifyRequest): string | null {
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : null;
}

/** The uploaded file as the handler reads it: a file over the size limit fails the stream
 * (busboy would only cut it short and set a flag, which a handler might not check). */
export function limitedFile(file: Readable): Readable {
  const out = new PassThrough();
  // The reader (if any) sees errors through its own iteration or pipeline; this keeps an
  // unread, failed upload from becoming an uncaught 'error' event that ends the process.
  out.on('error', () => undefined);
  file.on('limit', () => out.destroy(new AppError('TOO_LARGE', 'the uploaded file is over the size limit')));
  file.on('error', (err) => out.destroy(err));
  file.pipe(out);
  return out;
}

/** Sends a stream as the answer (200); a stream that fails midway cuts the connection, never ends it cleanly. */
export async function sendStream(reply: FastifyReply, result: StreamResult): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.statusCode = 200;
  res.setHeader('Content-Type', result.contentType ?? 'application/octet-stream');
  if (result.filename) res.setHeader('Content-Disposition', `attachment; filename="${result.filename}"`);
  try {
    await pipeline(result.stream, res);
  } catch (err) {
    // Headers are gone: the only honest signal left is to cut the connection, so the
    // receiver sees a truncated (unterminated) chunked body instead of a clean end.
    res.destroy();
    throw err;
  }
}

