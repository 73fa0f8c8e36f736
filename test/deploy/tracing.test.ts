/**
 * Tracing: OTLP/HTTP JSON export received by a local HTTP listener (a parent and a child span of
 * one trace across two services, an error status, resource attributes), TRACING_EXPORTER values
 * as the broker options turn them into exporters (jaeger = OTLP, zipkin kept), unknown refused.
 */
import http from "http";
import { AddressInfo } from "net";
import { Errors, ServiceBroker } from "moleculer";
import brokerOptions from "../../moleculer.config";
import { OtlpTraceExporter, spanId, traceId, tracesUrl } from "../../lib/infra/otlp-exporter";

interface Received {
	path: string;
	contentType: string;
	body: {
		resourceSpans: {
			resource: { attributes: { key: string; value: { stringValue?: string } }[] };
			scopeSpans: {
				spans: {
					traceId: string;
					spanId: string;
					parentSpanId?: string;
					name: string;
					kind: number;
					status: { code: number; message?: string };
					startTimeUnixNano: string;
					endTimeUnixNano: string;
				}[];
			}[];
		}[];
	};
}

function withEnv<T>(env: Record<string, string>, fn: () => T): T {
	const saved: Record<string, string | undefined> = {};
	for (const [k, v] of Object.entries(env)) {
		saved[k] = process.env[k];
		process.env[k] = v;
	}
	try {
		return fn();
	} finally {
		for (const [k, v] of Object.entries(saved)) {
			if (v === undefined) delete process.env[k];
			else process.env[k] = v;
		}
	}
}

describe("OTLP trace export", () => {
	let server: http.Server;
	const received: Received[] = [];
	let endpoint = "";

	beforeAll(async () => {
		server = http.createServer((req, res) => {
			let body = "";
			req.on("data", (c) => (body += c));
			req.on("end", () => {
				received.push({
					path: req.url ?? "",
					contentType: String(req.headers["content-type"]),
					body: JSON.parse(body),
				});
				res.writeHead(200, { "Content-Type": "application/json" });
				res.end("{}");
			});
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
		endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(() => new Promise((r) => server.close(r)));

	it("posts the spans of a call across two services as one trace, with parent, kind and error status", async () => {
		const broker = new ServiceBroker({
			nodeID: "otlp-test",
			namespace: "otlp",
			logger: false,
			tracing: { enabled: true, exporter: new OtlpTraceExporter({ endpoint, interval: 50 }) as never },
		});
		broker.createService({
			name: "front",
			actions: {
				hello: (ctx) => ctx.call("back.work"),
				fail: () => {
					throw new Errors.MoleculerError("boom", 500, "BOOM");
				},
			},
		});
		broker.createService({ name: "back", actions: { work: () => "done" } });
		await broker.start();
		await broker.call("front.hello");
		await broker.call("front.fail").catch(() => undefined);
		await broker.stop(); // flushes what is left

		expect(received.length).toBeGreaterThan(0);
		expect(received[0].path).toBe("/v1/traces");
		expect(received[0].contentType).toBe("application/json");
		const resources = received.flatMap((r) => r.body.resourceSpans);
		const spans = resources.flatMap((rs) =>
			rs.scopeSpans.flatMap((ss) =>
				ss.spans.map((s) => ({
					...s,
					service: rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue,
				})),
			),
		);
		const hello = spans.find((s) => s.name === "action 'front.hello'")!;
		const work = spans.find((s) => s.name === "action 'back.work'")!;
		const fail = spans.find((s) => s.name === "action 'front.fail'")!;
		expect([hello, work, fail].every(Boolean)).toBe(true);
		expect(hello.traceId).toMatch(/^[0-9a-f]{32}$/);
		expect(hello.spanId).toMatch(/^[0-9a-f]{16}$/);
		expect(work.traceId).toBe(hello.traceId);
		expect(work.parentSpanId).toBe(hello.spanId);
		expect([hello.service, work.service]).toEqual(["front", "back"]);
		expect(hello.kind).toBe(2);
		expect(BigInt(hello.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(hello.startTimeUnixNano));
		expect(hello.status).toEqual({ code: 1 });
		expect(fail.status).toEqual({ code: 2, message: "MoleculerError: boom" });
		const instance = resources[0].resource.attributes.find((a) => a.key === "service.instance.id");
		expect(instance?.value.stringValue).toBe("otlp-test");
	});

	it("ids and endpoints: UUIDs become OTLP hex ids; a bare origin gets /v1/traces", () => {
		expect(traceId("0b9c3f4e-7d2a-4e55-9d43-1a2b3c4d5e6f")).toBe("0b9c3f4e7d2a4e559d431a2b3c4d5e6f");
		expect(spanId("0b9c3f4e-7d2a-4e55-9d43-1a2b3c4d5e6f")).toBe("0b9c3f4e7d2a4e55");
		expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
		expect(tracesUrl("http://collector:4318/custom/traces")).toBe("http://collector:4318/custom/traces");
	});
});

describe("TRACING_EXPORTER in the broker options", () => {
	const tracingOf = (exporter: string, endpoint = "") =>
		withEnv({ TRACING_EXPORTER: exporter, TRACING_ENDPOINT: endpoint }, () => brokerOptions().tracing);

	it("none turns tracing off; console and zipkin are Moleculer's exporters", () => {
		expect(tracingOf("none")).toEqual({ enabled: false });
		expect(tracingOf("console")).toEqual({ enabled: true, exporter: { type: "Console" } });
		expect(tracingOf("zipkin", "http://zipkin:9411")).toEqual({
			enabled: true,
			exporter: { type: "Zipkin", options: { baseURL: "http://zipkin:9411" } },
		});
	});

	it("otlp and jaeger (Jaeger's OTLP receiver) use the OTLP exporter, with no extra package", () => {
		for (const name of ["otlp", "jaeger", "OTLP"]) {
			const t = tracingOf(name, "http://jaeger:4318") as { enabled: boolean; exporter: unknown };
			expect(t.enabled).toBe(true);
			expect(t.exporter).toBeInstanceOf(OtlpTraceExporter);
		}
	});

	it("an unknown exporter is refused", () => {
		expect(() => tracingOf("datadog")).toThrow(
			/Invalid setting TRACING_EXPORTER="datadog": expected one of none, console, zipkin, otlp, jaeger/,
		);
	});
});
