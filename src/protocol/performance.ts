import type { NodeRole } from './manager-api.js';

/** The seed's four performance figures (docs/metrics.md). */
export interface PerformanceFigures {
  /** Client statements per second. */
  request_rate: number;
  /** Client statements that failed, per second. */
  error_rate: number;
  /** Write transactions committed per second (on the master). */
  throughput: number;
  /** Mean statement latency, milliseconds. */
  response_time: number;
}

/** The windows get_service_performance answers over: the last sampling interval (about 1 s), and moving windows of 1, 5 and 15 minutes. */
export const PERFORMANCE_WINDOWS = ['now', '1m', '5m', '15m'] as const;
/** One of PERFORMANCE_WINDOWS. */
export type PerformanceWindow = (typeof PERFORMANCE_WINDOWS)[number];

/** The service's figures over one window, and each node's. */
export interface WindowPerformance extends PerformanceFigures {
  /** 95th percentile of statement latency, milliseconds: the upper bound of the histogram bucket it falls in (docs/metrics.md); null when no node gives a histogram or no statement ran. */
  response_time_p95: number | null;
  /** Seconds the figures span (shorter than the window while less history is kept; 0: not enough samples yet). */
  interval: number;
  /** When the last sample was taken (ISO time), or null. */
  at: string | null;
  /** Each node's figures, by node id. */
  nodes: Record<string, PerformanceFigures & { response_time_p95: number | null; role: NodeRole }>;
}

/** What get_service_performance answers: the seed's four keys over the chosen window (top level), and every window. */
export interface ServicePerformance extends WindowPerformance {
  /** The window the top-level figures cover. */
  window: PerformanceWindow;
  /** The figures over every window. */
  windows: Record<PerformanceWindow, WindowPerformance>;
}

