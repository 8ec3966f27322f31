/**
 * Errors with stable codes. Code throughout the project throws `AppError`; the RPC edge
 * (rpc/server.ts) is the one place that turns an error into the wire format, and the one
 * place that logs it.
 */
export const ERROR_CODES = [
  'PARSE_ERROR', // the request body or the params could not be parsed as JSON
  'NO_METHOD', // the request names no method
  'METHOD_NOT_FOUND', // the method is not one this server knows
  'WRONG_VERB', // e.g. a state-changing method called with GET
  'INVALID_PARAMS', // a parameter is missing, unexpected or of the wrong type
  'TOO_LARGE', // the body is over the size limit
  'WRONG_STATE', // the method is not allowed in the current state
  'BUSY', // another operation holds the resource
  'NOT_FOUND', // a named object (node, file) does not exist
  'CORRUPT', // stored data fails its check: shorter, longer or other than its checksum says
  'ENGINE_FAILED', // mariadbd or one of its tools failed
  'PEER_FAILED', // a call to another agent or manager failed
  'TIMEOUT', // something did not happen in time
  'UNAUTHORIZED', // missing or wrong credentials
  'FORBIDDEN', // valid credentials, but not for this method
  'INTERNAL', // a bug: anything not raised as an AppError
] as const;

/** One of the stable codes. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error with a stable code (and non-secret details for clients); what every layer throws. */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra, non-secret facts for clients (e.g. the current state). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }
}

/** True for an AppError. */
export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The message of anything thrown, without stack or SQL text. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
