import type { ErrorCode } from '../util/errors.js';

/** ConPaaS framing: the error is a plain message. `code` is ours, stable, and optional to read. */
export interface ConpaasResponse<R = unknown> {
  /** The method's result, null on error. */
  result: R | null;
  /** The error in words, null on success. */
  error: string | null;
  /** The request's id, echoed. */
  id: number | string | null;
  /** The error's stable code. */
  code?: ErrorCode;
}

/** JSON-RPC 2.0 framing, used when the request said `"jsonrpc": "2.0"`. */
export interface JsonRpc2Response<R = unknown> {
  /** Always `2.0`. */
  jsonrpc: '2.0';
  /** The request's id, echoed. */
  id: number | string | null;
  /** The method's result, on success. */
  result?: R;
  /** The error: JSON-RPC's numeric code, the message, and our stable code in `data`. */
  error?: { code: number; message: string; data: { code: ErrorCode; details?: Record<string, unknown> } };
}

/** HTTP status of an error answer. Most errors are a 200 with an error envelope, as in ConPaaS. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'METHOD_NOT_FOUND':
      return 404;
    case 'NO_METHOD':
    case 'PARSE_ERROR':
      return 400;
    case 'WRONG_VERB':
      return 405;
    case 'TOO_LARGE':
      return 413;
    case 'UNAUTHORIZED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    default:
      return 200;
  }
}

/** The JSON-RPC 2.0 numeric code for one of our codes. */
export function jsonRpc2CodeFor(code: ErrorCode): number {
  switch (code) {
    case 'PARSE_ERROR':
      return -32700;
    case 'NO_METHOD':
    case 'WRONG_VERB':
    case 'TOO_LARGE':
      return -32600;
    case 'METHOD_NOT_FOUND':
      return -32601;
    case 'INVALID_PARAMS':
      return -32602;
    case 'INTERNAL':
      return -32603;
    default:
      return -32000;
  }
}
