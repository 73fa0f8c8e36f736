/**
 * A Moleculer trace exporter that sends spans over OTLP/HTTP with the JSON encoding
 * (POST <endpoint>, ExportTraceServiceRequest), which the OpenTelemetry Collector, Jaeger (≥ 1.35,
 * port 4318), Grafana Tempo and most tracing back ends accept. Moleculer 0.14 ships no OTLP
 * exporter, and no maintained package adds one.
 *
 *   TRACING_EXPORTER=otlp TRACING_ENDPOINT=http://otel-collector:4318/v1/traces
 *
 * Spans are batched and posted every `interval` ms (and on stop); a failed post is logged once per
 * cause and dropped, and the queue is bounded, so a missing collector never grows the heap.
 */
import { LoggerInstance, Span, TracerExporters, Tracer } from "moleculer";

export interface OtlpExporterOptions {
	/** Full URL of the traces endpoint; a bare origin gets the standard path /v1/traces. */
	endpoint?: string;
	/** ms between posts. */
	interval?: number;
	/** Spans kept while the collector is unreachable; older ones are dropped beyond this. */
	maxQueue?: number;
	headers?: Record<string, string>;
}

type AnyValue = { stringValue: string } | { boolValue: boolean } | { intValue: string } | { doubleValue: number };
interface KeyValue {
	key: string;
	value: AnyValue;
}

export const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318/v1/traces";

/** The traces URL for an endpoint setting: a bare origin gets /v1/traces (as OTEL_EXPORTER_OTLP_ENDPOINT). */
export function tracesUrl(endpoint: string | undefined): string {
	const url = new URL(endpoint || DEFAULT_OTLP_ENDPOINT);
	if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/traces";
	return url.toString();
}

const hex = (id: string) => id.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
/** OTLP trace ids are 16 bytes, span ids 8 bytes, in hex (Moleculer's are UUIDs). */
export const traceId = (id: string) => hex(id).padStart(32, "0").slice(0, 32);
export const spanId = (id: string) => hex(id).padStart(16, "0").slice(0, 16);
const nanos = (ms: number) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

function anyValue(v: unknown): AnyValue {
	if (typeof v === "boolean") return { boolValue: v };
	if (typeof v === "number" && Number.isInteger(v)) return { intValue: String(v) };
	if (typeof v === "number") return { doubleValue: v };
	return { stringValue: typeof v === "string" ? v : JSON.stringify(v) };
}

function attributes(obj: Record<string, unknown>, prefix = ""): KeyValue[] {
	const out: KeyValue[] = [];
	for (const [k, v] of Object.entries(obj ?? {})) {
		if (v === undefined || v === null) continue;
		const key = prefix ? `${prefix}.${k}` : k;
		if (typeof v === "object" && !Array.isArray(v)) out.push(...attributes(v as Record<string, unknown>, key));
		else out.push({ key, value: anyValue(v) });
	}
	return out;
}

/** SpanKind: 1 internal, 2 server (an action or event handled here). */
const kindOf = (span: Span) => (["action", "event"].includes(String((span as Span & { type?: string }).type)) ? 2 : 1);

export class OtlpTraceExporter extends TracerExporters.Base {
	private queue: Span[] = [];
	private timer: NodeJS.Timeout | null = null;
	private readonly url: string;
	private readonly interval: number;
	private readonly maxQueue: number;
	private readonly headers: Record<string, string>;
	private lastProblem = "";
	private resource: KeyValue[] = [];

	constructor(opts: OtlpExporterOptions = {}) {
		super(opts);
		this.url = tracesUrl(opts.endpoint);
		this.interval = opts.interval ?? 5000;
		this.maxQueue = opts.maxQueue ?? 10_000;
		this.headers = { "Content-Type": "application/json", ...(opts.headers ?? {}) };
	}

	init(tracer: Tracer): void {
		super.init(tracer);
		const broker = (tracer as Tracer & { broker: { nodeID: string; namespace: string } }).broker;
		this.resource = attributes({
			"service.namespace": broker.namespace || "gasrapido",
			"service.instance.id": broker.nodeID,
			"telemetry.sdk.name": "moleculer",
			"telemetry.sdk.language": "nodejs",
		});
		this.timer = setInterval(() => void this.flush(), this.interval);
		this.timer.unref();
	}

	async stop(): Promise<void> {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		await this.flush();
	}

	spanFinished(span: Span): void {
		this.queue.push(span);
		if (this.queue.length > this.maxQueue) this.queue.splice(0, this.queue.length - this.maxQueue);
	}

	/** The ExportTraceServiceRequest for some spans: one resource per Moleculer service. */
	request(spans: Span[]) {
		const byService = new Map<string, Span[]>();
		for (const span of spans) {
			const name = span.service?.name ?? "gasrapido";
			byService.set(name, [...(byService.get(name) ?? []), span]);
		}
		return {
			resourceSpans: [...byService].map(([service, list]) => ({
				resource: { attributes: [{ key: "service.name", value: { stringValue: service } }, ...this.resource] },
				scopeSpans: [
					{
						scope: { name: "moleculer", version: "0.14" },
						spans: list.map((span) => this.otlpSpan(span)),
					},
				],
			})),
		};
	}

	private otlpSpan(span: Span) {
		const start = span.startTime ?? Date.now();
		const end = span.finishTime ?? start + (span.duration ?? 0);
		return {
			traceId: traceId(span.traceID),
			spanId: spanId(span.id),
			...(span.parentID ? { parentSpanId: spanId(span.parentID) } : {}),
			name: span.name,
			kind: kindOf(span),
			startTimeUnixNano: nanos(start),
			endTimeUnixNano: nanos(end),
			attributes: attributes(this.flattenTags(span.tags ?? {}) as Record<string, unknown>),
			events: (span.logs ?? []).map((log) => ({
				name: log.name,
				timeUnixNano: nanos(log.time),
				attributes: attributes((log.fields ?? {}) as Record<string, unknown>),
			})),
			status: span.error ? { code: 2, message: `${span.error.name}: ${span.error.message}` } : { code: 1 },
		};
	}

	async flush(): Promise<void> {
		if (this.queue.length === 0) return;
		const spans = this.queue.splice(0, this.queue.length);
		const logger: LoggerInstance = this.logger;
		try {
			const res = await fetch(this.url, {
				method: "POST",
				headers: this.headers,
				body: JSON.stringify(this.request(spans)),
				signal: AbortSignal.timeout(5000),
			});
			await res.arrayBuffer();
			if (res.status >= 400) this.problem(logger, `HTTP ${res.status}`, spans.length);
			else this.lastProblem = "";
		} catch (err) {
			this.problem(logger, (err as Error).message, spans.length);
		}
	}

	private problem(logger: LoggerInstance, cause: string, count: number) {
		if (cause === this.lastProblem) return;
		this.lastProblem = cause;
		logger.warn(`Could not send ${count} span(s) to ${this.url} (${cause}); spans are dropped until it answers`);
	}
}
