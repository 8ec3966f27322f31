import type { z } from 'zod';

/**
 * How a method travels on the wire (DESIGN §2):
 * - `GET`: read methods, `GET /?method=NAME&params=<JSON>&id=N` (POST is accepted too);
 * - `POST`: state-changing methods, a JSON body `{method, params, id}`;
 * - `UPLOAD`: `multipart/form-data` with a `method` field and file fields.
 */
export type Verb = 'GET' | 'POST' | 'UPLOAD';

/** What a method answers: a JSON result in the envelope, or a raw byte stream. */
export type ResultKind = 'json' | 'stream';

/** One method of a map: how it travels, what params it takes (a zod schema), what it answers. */
export interface MethodSpec<P extends z.ZodTypeAny = z.ZodTypeAny, R = unknown> {
  /** How it travels: GET, POST or UPLOAD. */
  readonly verb: Verb;
  /** The schema its params are checked against. */
  readonly params: P;
  /** JSON in the envelope, or a byte stream. */
  readonly result: ResultKind;
  /** Names of the file fields an UPLOAD method takes. */
  readonly files?: readonly string[];
  /** Phantom: the type of a JSON result. Never read at run time. */
  readonly _result?: R;
}

/** A server's or a client's methods, by name. */
export type MethodMap = Record<string, MethodSpec>;

/** The params a caller gives a method. */
export type ParamsOf<S> = S extends MethodSpec<infer P, unknown> ? z.input<P> : never;
/** The params a handler receives, once checked (defaults filled in). */
export type ParsedParamsOf<S> = S extends MethodSpec<infer P, unknown> ? z.output<P> : never;
/** The JSON result of a method. */
export type ResultOf<S> = S extends MethodSpec<z.ZodTypeAny, infer R> ? R : never;

/** Declares a method; `R` is the JSON result type shared by server and client. */
export function method<R = unknown>() {
  return <P extends z.ZodTypeAny>(spec: { verb: Verb; params: P; result?: ResultKind; files?: readonly string[] }): MethodSpec<P, R> => ({
    verb: spec.verb,
    params: spec.params,
    result: spec.result ?? 'json',
    ...(spec.files ? { files: spec.files } : {}),
  });
}
