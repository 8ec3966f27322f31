import { Agent, request } from 'node:http';

/** What an open-loop run measured. Latencies in ms, from each request's scheduled time. */
export interface OpenLoopResult {
  /** Requests scheduled (rate × seconds). */
  sent: number;
  /** Answers with status 200. */
  ok: number;
  /** Errors and other statuses. */
  failed: number;
  /** Latency percentiles and maximum, ms. */
  p50: number;
  p99: number;
  max: number;
  /** Mean latency, ms. */
  mean: number;
  /** 99th percentile of how late the generator itself sent a request after it was due (its timer ticks, its own pauses), ms. */
  lagP99: number;
  /** Latency from when each request was actually sent (the server's and the network's part only): p50, p99, ms. */
  sentP50: number;
  sentP99: number;
}

/**
 * An open-loop load at a uniform `rate` (requests/s) for `seconds`: request i is due at i/rate,
 * issued at the first timer tick (~1 ms) it is due at (whatever is still waiting for an answer), over up
 * to 256 keep-alive connections, and its latency counted from when it was due — so a server that
 * stalls is charged for every request that should have gone meanwhile (no coordinated omission;
 * the method of wrk2) — and from when it was sent (what the generator's own lateness does not
 * inflate: the requests go on schedule whatever the answers do, so this is open loop too). autocannon's `-R` sends each connection's share of a second in a burst,
 * then waits for the next second, which measures a burst, not a rate.
 */
export async function openLoop(url: string, headers: Record<string, string>, rate: number, seconds: number): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const lags: number[] = [];
  const fromSent: number[] = [];
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  const fire = (due: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          const end = performance.now();
          latencies.push(end - due);
          fromSent.push(end - sent);
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && start + (next * 1000) / rate <= now) {
      const due = start + (next * 1000) / rate;
      lags.push(now - due);
      inflight.push(fire(due));
      next++;
    }
    // A timer, not a busy loop: the load generator shares the cores with the manager.
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  fromSent.sort((a, b) => a - b);
  const pick = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(xs.length * q) - 1))] ?? Number.NaN;
  const at = (q: number): number => pick(latencies, q);
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  return { sent: total, ok, failed, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? Number.NaN, mean, lagP99: pick(lags, 0.99), sentP50: pick(fromSent, 0.5), sentP99: pick(fromSent, 0.99) };
}
