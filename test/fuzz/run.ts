import fc from 'fast-check';
import { expect } from 'vitest';
import type { MethodMap } from '../../src/protocol/method.js';
import { describeRequest, hostileRequests, type HostileRequest } from './arbitraries.js';
import type { RawRequest, RawResponse } from './http.js';
import { checkAnswer, checkNoAnswer, formatTally, newTally, sendable } from './oracle.js';

/** A request as sent: a valid read-only call may stream a snapshot or a dump, so it gets longer than a refusal. */
export function asRaw(req: HostileRequest): RawRequest {
  return { verb: req.verb, path: req.path, headers: req.headers, body: req.body, chunked: req.chunked, timeoutMs: req.expect.maySucceed ? 120_000 : 15_000 };
}

/**
 * Sends `runs` hostile requests for every method of `methods` to one server and judges every
 * answer (oracle.ts); a failure carries the end of the server's log. Every method must have been
 * aimed at.
 */
export async function fuzzServer(options: {
  label: string;
  methods: MethodMap;
  send: (req: RawRequest) => Promise<RawResponse>;
  logs: () => string;
  seed: number;
  runs: number;
}): Promise<void> {
  const names = Object.keys(options.methods);
  const tally = newTally(names);
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(hostileRequests(options.methods).filter(sendable), async (req) => {
      try {
        let res: RawResponse;
        try {
          res = await options.send(asRaw(req));
        } catch (err) {
          checkNoAnswer(req, err, tally, describeRequest);
          return;
        }
        checkAnswer(req, res, tally, describeRequest);
      } catch (err) {
        // With the server's last words, for a failure seen once.
        throw new Error(`${(err as Error).message}\n  server log tail:\n${options.logs().split('\n').slice(-12).join('\n').slice(-4000)}`);
      }
    }),
    { seed: options.seed, numRuns: options.runs },
  );
  console.log(`${options.label} fuzz, seed ${options.seed}, ${Date.now() - started} ms\n${formatTally(tally)}`);
  for (const name of names) expect(tally.byMethod.get(name) ?? 0, name).toBeGreaterThan(0);
}
