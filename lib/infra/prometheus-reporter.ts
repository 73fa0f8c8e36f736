/**
 * Moleculer's Prometheus reporter, made to write what Prometheus expects (`promtool check metrics`
 * finds nothing to complain about; test/deploy/metrics.test.ts runs it):
 *  - names and labels in snake_case (metricNameFormatter / labelNameFormatter: nodeID → node_id);
 *  - counters end in `_total`, gauges do not (`moleculer_registry_nodes_total` → `…_nodes`);
 *  - base units in the name and the value: milliseconds become seconds (`moleculer_request_time`
 *    → `moleculer_request_duration_seconds`), minutes become seconds, bytes get `_bytes`;
 *  - a histogram is a histogram (`_bucket{le}`, `_sum`, `_count`), a quantile-only one is a
 *    summary, never both mixed in one family; no `_rate`/`_min`/`_mean` side series (PromQL's
 *    rate() and histogram_quantile() do that);
 *  - every family has HELP; info metrics are `_info` gauges with the value as a label;
 *  - a family with no samples yet (a circuit breaker that never opened) still has HELP and TYPE,
 *    so dashboards and rules can name it from the first scrape.
 * A port that is taken is one line and exit code 98 (it crashed the process with an unhandled
 * 'error' event, and `npm run cluster` lost 5 of 6 processes when METRICS_PORT was set).
 */
import { MetricRegistry, MetricReporters } from "moleculer";
import { exitWhenListenFails } from "./startup-failure";

/** camelCase and dots/dashes to snake_case: "moleculer.request.time" → "moleculer_request_time", "nodeID" → "node_id". */
export function snakeCase(name: string): string {
	return name
		.replace(/([a-z0-9])([A-Z]+)/g, "$1_$2")
		.replace(/[^A-Za-z0-9_:]/g, "_")
		.replace(/_+/g, "_")
		.replace(/^_|_$/g, "")
		.toLowerCase();
}

interface Snapshot {
	labels?: Record<string, unknown>;
	value?: unknown;
	count?: number;
	sum?: number;
	buckets?: Record<string, number>;
	[quantile: string]: unknown;
}

interface StoredMetric {
	name: string;
	type: string;
	description?: string;
	unit?: string;
	quantiles?: number[] | boolean | null;
	buckets?: number[] | boolean | null;
	snapshot(): Snapshot[];
}

/** How a unit is written in a name and how its values are scaled to the base unit. */
const UNITS: Record<string, { suffix: string; scale: number }> = {
	millisecond: { suffix: "seconds", scale: 1 / 1000 },
	microsecond: { suffix: "seconds", scale: 1 / 1e6 },
	nanosecond: { suffix: "seconds", scale: 1 / 1e9 },
	second: { suffix: "seconds", scale: 1 },
	minute: { suffix: "seconds", scale: 60 },
	byte: { suffix: "bytes", scale: 1 },
	kilobyte: { suffix: "bytes", scale: 1024 },
	megabyte: { suffix: "bytes", scale: 1024 ** 2 },
};
/** Units written in a name without a `unit` option (the app's own histograms). */
const NAME_UNITS: [RegExp, string][] = [
	[/_minutes$/, "minute"],
	[/_ms$/, "millisecond"],
];

export interface Family {
	name: string;
	type: "counter" | "gauge" | "histogram" | "summary";
	scale: number;
	info: boolean;
}

/** The Prometheus family a Moleculer metric is written as (name after metricNameFormatter). */
export function familyOf(metric: StoredMetric, formattedName: string): Family {
	let name = formattedName;
	let unit = metric.unit;
	for (const [re, u] of NAME_UNITS)
		if (!unit && re.test(name)) {
			unit = u;
			name = name.replace(re, "");
		}
	const info = metric.type === "info";
	const isHistogram = metric.type === "histogram";
	const type: Family["type"] = isHistogram
		? metric.buckets
			? "histogram"
			: "summary"
		: metric.type === "counter"
			? "counter"
			: "gauge";
	name = name.replace(/_total$/, "");
	if (isHistogram) name = name.replace(/_time$/, "_duration");
	const u = unit ? UNITS[unit] : undefined;
	if (u && !name.endsWith(`_${u.suffix}`)) name = `${name}_${u.suffix}`;
	if (info) name = `${name}_info`;
	if (type === "counter") name = `${name}_total`;
	return { name, type, scale: u ? u.scale : 1, info };
}

const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeValue = (v: unknown) =>
	String(v ?? "")
		.replace(/\\/g, "\\\\")
		.replace(/\n/g, "\\n")
		.replace(/"/g, '\\"');
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? String(v) : v === Infinity ? "+Inf" : "NaN");

/** The members of Moleculer's reporter used here (its typings only declare the base class). */
interface PrometheusInternals {
	opts: { port: number };
	server?: import("http").Server;
	registry: { store: Map<string, StoredMetric>; broker: { logger: import("moleculer").LoggerInstance } };
	defaultLabels?: Record<string, unknown>;
	matchMetricName(name: string): boolean;
	formatMetricName(name: string): string;
	formatLabelName(name: string): string;
}

export class PromtoolCleanPrometheusReporter extends MetricReporters.Prometheus {
	init(registry: MetricRegistry): void {
		super.init(registry);
		const self = this as unknown as PrometheusInternals;
		if (self.server)
			exitWhenListenFails(self.server, self.registry.broker.logger, "METRICS_PORT", () => self.opts.port);
	}

	private labels(own: Record<string, unknown> | undefined, extra?: Record<string, string>): string {
		const self = this as unknown as PrometheusInternals;
		const all = { ...(self.defaultLabels ?? {}), ...(own ?? {}), ...(extra ?? {}) };
		const parts = Object.entries(all)
			.filter(([, v]) => v !== undefined && v !== null)
			.map(([k, v]) => `${self.formatLabelName(k)}="${escapeValue(v)}"`);
		return parts.length ? `{${parts.join(",")}}` : "";
	}

	generatePrometheusResponse(): string {
		const self = this as unknown as PrometheusInternals;
		const out: string[] = [];
		const seen = new Set<string>();
		for (const metric of self.registry.store.values()) {
			if (!self.matchMetricName(metric.name)) continue;
			const fam = familyOf(metric, self.formatMetricName(metric.name));
			if (seen.has(fam.name)) continue; // two metrics mapping to one family: keep the first
			seen.add(fam.name);
			const help = metric.description || `${metric.name}${metric.unit ? ` (${metric.unit})` : ""}`;
			out.push(`# HELP ${fam.name} ${escapeHelp(help)}`, `# TYPE ${fam.name} ${fam.type}`);
			for (const item of metric.snapshot()) {
				if (fam.info) {
					out.push(`${fam.name}${this.labels(item.labels, { value: String(item.value) })} 1`);
				} else if (fam.type === "counter" || fam.type === "gauge") {
					const v = typeof item.value === "number" ? item.value * fam.scale : item.value;
					out.push(`${fam.name}${this.labels(item.labels)} ${num(v)}`);
				} else if (fam.type === "histogram") {
					for (const [le, count] of Object.entries(item.buckets ?? {}))
						out.push(
							`${fam.name}_bucket${this.labels(item.labels, { le: String(Number(le) * fam.scale) })} ${num(count)}`,
						);
					out.push(`${fam.name}_bucket${this.labels(item.labels, { le: "+Inf" })} ${num(item.count)}`);
					out.push(`${fam.name}_sum${this.labels(item.labels)} ${num((item.sum ?? 0) * fam.scale)}`);
					out.push(`${fam.name}_count${this.labels(item.labels)} ${num(item.count)}`);
				} else {
					const quantiles = Array.isArray(metric.quantiles) ? metric.quantiles : [0.5, 0.9, 0.95, 0.99, 0.999];
					for (const q of quantiles) {
						const v = item[String(q)];
						if (typeof v === "number")
							out.push(`${fam.name}${this.labels(item.labels, { quantile: String(q) })} ${num(v * fam.scale)}`);
					}
					out.push(`${fam.name}_sum${this.labels(item.labels)} ${num((item.sum ?? 0) * fam.scale)}`);
					out.push(`${fam.name}_count${this.labels(item.labels)} ${num(item.count)}`);
				}
			}
			out.push("");
		}
		return out.join("\n");
	}
}
