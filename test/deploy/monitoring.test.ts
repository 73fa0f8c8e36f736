/**
 * Monitoring shipped with the code: the alert rules pass `promtool check rules` and each has a
 * runbook line; a running broker's /metrics passes `promtool check metrics` with nothing to
 * complain about and has HTTP metrics by route and status and event-loop/GC metrics; every series
 * the rules and the Grafana dashboard name is exported by that broker (or listed in
 * monitoring/pending-series.txt as being added by other engineers).
 */
import { spawnSync } from "child_process";
import fs from "fs";
import net from "net";
import path from "path";
import { ServiceBroker } from "moleculer";
import { parse } from "yaml";
import { ALL_SERVICES } from "../../lib/infra/config";
import { gatewayUrl, startBroker } from "../helpers/broker";

const ROOT = path.resolve(__dirname, "../..");
const RULES = path.join(ROOT, "monitoring", "prometheus", "alerts.yml");
const DASHBOARD = path.join(ROOT, "monitoring", "grafana", "gasrapido.json");
const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => fs.existsSync(p));
/** Made by Prometheus itself for every target, not by the app. */
const PROMETHEUS_SERIES = ["up"];

if (!PROMTOOL && process.env.REQUIRE_INFRA !== "1")
	console.warn("\n!!! promtool is not installed (apt-get install prometheus): SKIPPING the promtool checks.\n");
const withPromtool = PROMTOOL || process.env.REQUIRE_INFRA === "1" ? it : it.skip;

function promtool(args: string[], input?: string) {
	if (!PROMTOOL) throw new Error("promtool is not installed and REQUIRE_INFRA=1");
	return spawnSync(PROMTOOL, args, { input, encoding: "utf8" });
}

const FUNCTIONS = new Set(
	"sum min max avg count stddev stdvar topk bottomk quantile count_values group rate irate increase delta idelta deriv histogram_quantile clamp clamp_min clamp_max abs ceil floor round exp ln log2 log10 sqrt absent absent_over_time time vector scalar label_replace label_join sort sort_desc predict_linear avg_over_time max_over_time min_over_time sum_over_time count_over_time last_over_time changes resets by without on ignoring group_left group_right and or unless bool offset le".split(
		" ",
	),
);

/** Metric names used in a PromQL expression (label matchers, groupings, strings and ranges removed). */
export function seriesIn(expr: string): string[] {
	const stripped = expr
		.replace(/"(?:[^"\\]|\\.)*"/g, " ")
		.replace(/\{[^}]*\}/g, " ")
		.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
		.replace(/\[[^\]]*\]/g, " ")
		.replace(/\$\w+/g, " ")
		.replace(/\b\d+(\.\d+)?(e[-+]?\d+)?\b/gi, " ");
	const names = (stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []).filter((t) => !FUNCTIONS.has(t) && !/^\d/.test(t));
	return [...new Set(names)];
}

/** The exposition family a sample name belongs to (histogram/summary sample suffixes dropped). */
const family = (name: string, families: Set<string>) => {
	for (const suffix of ["_bucket", "_sum", "_count"])
		if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
	return name;
};

function ruleExprs(): { alert: string; expr: string; annotations: Record<string, string> }[] {
	const doc = parse(fs.readFileSync(RULES, "utf8"));
	return doc.groups.flatMap(
		(g: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }) => g.rules,
	);
}

function dashboardExprs(): string[] {
	const dash = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
	const exprs: string[] = [];
	const walk = (panels: { targets?: { expr: string }[]; panels?: unknown[] }[]) => {
		for (const p of panels) {
			for (const t of p.targets ?? []) exprs.push(t.expr);
			if (p.panels) walk(p.panels as typeof panels);
		}
	};
	walk(dash.panels);
	for (const v of dash.templating.list)
		if (typeof v.definition === "string") exprs.push(v.definition.replace(/^label_values\((\w+),.*$/, "$1"));
	return exprs;
}

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

describe("alert rules", () => {
	withPromtool("pass promtool check rules", () => {
		const r = promtool(["check", "rules", RULES]);
		expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({
			status: 0,
			out: expect.stringContaining("SUCCESS"),
		});
	});

	it("each alert has a severity, a summary and a one-line runbook", () => {
		for (const rule of ruleExprs()) {
			expect([rule.alert, typeof rule.annotations?.summary]).toEqual([rule.alert, "string"]);
			expect([rule.alert, rule.annotations?.runbook?.length > 20, rule.annotations?.runbook?.includes("\n")]).toEqual([
				rule.alert,
				true,
				false,
			]);
		}
	});
});

describe("the Grafana dashboard", () => {
	it("is valid JSON with unique panel ids, each query on the datasource variable", () => {
		const dash = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
		expect(dash.uid).toBe("gasrapido-overview");
		const ids = dash.panels.map((p: { id: number }) => p.id);
		expect(new Set(ids).size).toBe(ids.length);
		for (const p of dash.panels.filter((p: { targets?: unknown[] }) => p.targets))
			expect([p.title, p.datasource.uid]).toEqual([p.title, "${datasource}"]);
	});
});

describe("a running broker's /metrics", () => {
	let broker: ServiceBroker;
	let metricsText = "";
	jest.setTimeout(60_000);

	beforeAll(async () => {
		const port = await freePort();
		broker = await startBroker({ services: [...ALL_SERVICES], env: { METRICS_PORT: String(port) } });
		const base = gatewayUrl(broker);
		// a few answers so that the HTTP series have samples: a route, a 404, a static file
		await Promise.all(
			[fetch(`${base}/api/products`), fetch(`${base}/api/nope`), fetch(`${base}/`)].map((p) =>
				p.then((r) => r.arrayBuffer()),
			),
		);
		await new Promise((r) => setTimeout(r, 100));
		metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
	});
	afterAll(() => broker?.stop());

	withPromtool("passes promtool check metrics with nothing to complain about", () => {
		const r = promtool(["check", "metrics"], metricsText);
		expect({
			status: r.status,
			problems: (r.stdout + r.stderr).trim().split("\n").filter(Boolean).slice(0, 20),
		}).toEqual({ status: 0, problems: [] });
	});

	it("has HTTP requests and latency by route and status, event-loop lag, GC and memory", () => {
		expect(metricsText).toMatch(
			/^gasrapido_http_requests_total\{[^}]*method="GET",route="\/api\/products",status="200"\} 1$/m,
		);
		expect(metricsText).toMatch(/^gasrapido_http_requests_total\{[^}]*route="unmatched",status="404"\} 1$/m);
		expect(metricsText).toMatch(
			/^gasrapido_http_request_duration_seconds_bucket\{[^}]*route="\/api\/products",status="200",le="0.005"\} \d+$/m,
		);
		expect(metricsText).toMatch(/^gasrapido_eventloop_lag_p99_seconds\{[^}]*node_id="[^"]+"\} [\d.e-]+$/m);
		for (const name of [
			"gasrapido_gc_pause_seconds_total",
			"process_memory_rss_bytes",
			"moleculer_circuit_breaker_opened_active",
		])
			expect(metricsText).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
		// node_id, not nodeID; moleculer_namespace, not namespace (Prometheus adds the Kubernetes one)
		expect(metricsText).not.toMatch(/[{,](nodeID|namespace)=/);
	});

	it("exports every series the alert rules and the dashboard name (or it is listed as pending)", () => {
		const families = new Set([...metricsText.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
		const pending = fs
			.readFileSync(path.join(ROOT, "monitoring", "pending-series.txt"), "utf8")
			.split("\n")
			.filter((l) => l.trim() && !l.startsWith("#"));
		const named = [...ruleExprs().map((r) => r.expr), ...dashboardExprs()].flatMap(seriesIn);
		expect(named.length).toBeGreaterThan(20);
		const missing = [...new Set(named)]
			.map((n) => family(n, families))
			.filter((n) => !families.has(n) && !pending.includes(n) && !PROMETHEUS_SERIES.includes(n));
		expect(missing).toEqual([]);
		// a pending series that the app exports by now should leave the list
		expect(pending.filter((p) => families.has(p))).toEqual([]);
	});
});
