/**
 * Node.js runtime metrics Moleculer does not export: event-loop lag (perf_hooks'
 * monitorEventLoopDelay, read and reset every scrape interval) and garbage collection.
 *   gasrapido_eventloop_lag_p50_seconds / _p99_seconds / _max_seconds / _mean_seconds  (gauges)
 *   gasrapido_gc_runs_total{kind}, gasrapido_gc_pause_seconds_total{kind}             (counters)
 * Memory is Moleculer's own: process_memory_rss_bytes, process_memory_heap_size_used_bytes, …
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from "perf_hooks";
import { AppMiddleware } from "./types";

export const RUNTIME_METRICS = {
	lagP50: "gasrapido.eventloop.lag.p50",
	lagP99: "gasrapido.eventloop.lag.p99",
	lagMax: "gasrapido.eventloop.lag.max",
	lagMean: "gasrapido.eventloop.lag.mean",
	gcRuns: "gasrapido.gc.runs",
	gcPause: "gasrapido.gc.pause",
} as const;

const GC_KINDS: Record<number, string> = {
	[constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
	[constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
	[constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
	[constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};

export function runtimeMetricsMiddleware(sampleEveryMs = 5000): AppMiddleware {
	let timer: NodeJS.Timeout | null = null;
	let gcObserver: PerformanceObserver | null = null;
	const histogram = monitorEventLoopDelay({ resolution: 10 });
	return {
		name: "RuntimeMetrics",
		created(broker) {
			if (!broker.isMetricsEnabled()) return;
			const m = broker.metrics;
			const gauge = (name: string, description: string) =>
				m.register({ type: "gauge", name, unit: "second", description });
			gauge(RUNTIME_METRICS.lagP50, "Event-loop delay, median over the last interval");
			gauge(RUNTIME_METRICS.lagP99, "Event-loop delay, 99th percentile over the last interval");
			gauge(RUNTIME_METRICS.lagMax, "Event-loop delay, maximum over the last interval");
			gauge(RUNTIME_METRICS.lagMean, "Event-loop delay, mean over the last interval");
			m.register({
				type: "counter",
				name: RUNTIME_METRICS.gcRuns,
				labelNames: ["kind"],
				description: "Garbage collections by kind",
			});
			m.register({
				type: "counter",
				name: RUNTIME_METRICS.gcPause,
				labelNames: ["kind"],
				unit: "second",
				description: "Time spent in garbage collection by kind",
			});
			for (const kind of Object.values(GC_KINDS)) {
				m.increment(RUNTIME_METRICS.gcRuns, { kind }, 0);
				m.increment(RUNTIME_METRICS.gcPause, { kind }, 0);
			}
			const sample = () => {
				const s = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
				m.set(RUNTIME_METRICS.lagP50, s(histogram.percentile(50)));
				m.set(RUNTIME_METRICS.lagP99, s(histogram.percentile(99)));
				m.set(RUNTIME_METRICS.lagMax, s(histogram.max));
				m.set(RUNTIME_METRICS.lagMean, s(histogram.mean));
				histogram.reset();
			};
			histogram.enable();
			sample();
			timer = setInterval(sample, sampleEveryMs);
			timer.unref();
			gcObserver = new PerformanceObserver((list) => {
				for (const entry of list.getEntries()) {
					const detail = (entry as unknown as { detail?: { kind?: number } }).detail;
					const kind = GC_KINDS[detail?.kind ?? -1] ?? "other";
					m.increment(RUNTIME_METRICS.gcRuns, { kind });
					m.increment(RUNTIME_METRICS.gcPause, { kind }, entry.duration / 1000);
				}
			});
			gcObserver.observe({ entryTypes: ["gc"] });
		},
		stopped() {
			if (timer) clearInterval(timer);
			histogram.disable();
			gcObserver?.disconnect();
		},
	};
}
