#!/usr/bin/env node
/**
 * The order benchmark (bench/orders.js) two ways on this machine, side by side:
 *   (a) one process with every service (no transporter, in memory);
 *   (b) the six service groups as separate processes over NATS (scripts/cluster.js), driven through
 *       their gateway with `bench/orders.js --target`.
 *
 *   npm run bench:compare -- [--orders 300] [--concurrency 20] [--customers 30]
 *   TRANSPORTER=nats://127.0.0.1:4222 (default) names the NATS server for (b).
 *
 * Both runs use the same options; the load generator shares the machine with the servers, so the
 * figures compare the setups rather than measure capacity. Exit code 1 if either run failed.
 */
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const path = require("path");
const { startLocalCluster } = require("../scripts/cluster");

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const ORDERS = option("orders", process.env.BENCH_ORDERS || "300");
const CONCURRENCY = option("concurrency", process.env.BENCH_CONCURRENCY || "20");
const CUSTOMERS = option("customers", process.env.BENCH_CUSTOMERS || "30");
const TRANSPORTER = process.env.TRANSPORTER || "nats://127.0.0.1:4222";
const BENCH = path.join(__dirname, "orders.js");

/** Runs bench/orders.js --json with extra args/env; resolves with its JSON result (or an error). */
function runBench(args, env) {
	return new Promise((resolve) => {
		const child = spawn(
			process.execPath,
			[BENCH, "--orders", ORDERS, "--concurrency", CONCURRENCY, "--customers", CUSTOMERS, "--json", ...args],
			{ env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
		);
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (c) => (stdout += c));
		child.stderr.on("data", (c) => {
			stderr += c;
			process.stderr.write(c);
		});
		child.on("exit", (code) => {
			const line = stdout
				.trim()
				.split("\n")
				.filter((l) => l.startsWith("{"))
				.pop();
			try {
				resolve({ code, result: JSON.parse(line) });
			} catch {
				resolve({ code, error: `no result (exit ${code}): ${stderr.split("\n").slice(-5).join(" ")}` });
			}
		});
	});
}

async function dropStreams(namespace) {
	try {
		const { connect } = require("nats");
		const nc = await connect({ servers: TRANSPORTER.replace("nats://", ""), timeout: 2000, maxReconnectAttempts: 0 });
		const jsm = await nc.jetstreamManager();
		for await (const stream of jsm.streams.list())
			if (stream.config.name.startsWith(`${namespace}_`)) await jsm.streams.delete(stream.config.name);
		await nc.close();
	} catch {
		// best effort
	}
}

function table(rows) {
	const fmt = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? "-" : Number(v).toFixed(digits));
	const lines = [
		["", "one process", "6 processes over NATS"],
		[
			"orders created / confirmed",
			...rows.map((r) => (r.result ? `${r.result.created} / ${r.result.confirmed}` : "failed")),
		],
		["POST /api/orders per second", ...rows.map((r) => fmt(r.result && r.result.postsPerSecond))],
		["confirmed per second", ...rows.map((r) => fmt(r.result && r.result.confirmedPerSecond))],
		["POST latency p50 ms", ...rows.map((r) => fmt(r.result && r.result.postLatencyMs.p50, 1))],
		["POST latency p95 ms", ...rows.map((r) => fmt(r.result && r.result.postLatencyMs.p95, 1))],
		["POST latency p99 ms", ...rows.map((r) => fmt(r.result && r.result.postLatencyMs.p99, 1))],
		["created→confirmed p50 ms", ...rows.map((r) => fmt(r.result && r.result.sagaLatencyMs.p50, 1))],
		["created→confirmed p95 ms", ...rows.map((r) => fmt(r.result && r.result.sagaLatencyMs.p95, 1))],
		["errors", ...rows.map((r) => (r.result ? String(r.result.errors) : r.error))],
	];
	const widths = [0, 1, 2].map((i) => Math.max(...lines.map((l) => String(l[i]).length)));
	return lines.map((l) => l.map((c, i) => String(c).padEnd(widths[i])).join("   ")).join("\n");
}

async function main() {
	console.log(`Order benchmark: ${ORDERS} orders, concurrency ${CONCURRENCY}, ${CUSTOMERS} customers.\n`);
	console.log("(a) one process, every service, in memory ...");
	const single = await runBench([], { TRANSPORTER: "", NAMESPACE: "" });

	console.log("\n(b) six processes over NATS ...");
	const namespace = `bench-${crypto.randomBytes(3).toString("hex")}`;
	const env = {
		TRANSPORTER,
		NAMESPACE: namespace,
		LOG_LEVEL: "warn",
		RATE_LIMIT_MAX: "100000000",
		AUTH_RATE_LIMIT_MAX: "100000000",
		JWT_EXPIRES_IN: "12h",
		RECONCILE_INTERVAL_MS: "0",
		METRICS_PORT: "0",
	};
	let split;
	let cluster;
	try {
		cluster = await startLocalCluster({
			env,
			port: await freePort(),
			healthPortBase: 0,
			dataDir: ":memory:",
			quiet: true,
		});
		split = await runBench(["--target", cluster.gatewayUrl], env);
	} catch (err) {
		split = { error: err.message };
	} finally {
		if (cluster) await cluster.stop(5000);
		await dropStreams(namespace);
	}

	console.log(`\n${table([single, split])}\n`);
	process.exit(single.result && split.result && single.code === 0 && split.code === 0 ? 0 : 1);
}

function freePort() {
	return new Promise((resolve, reject) => {
		const server = require("net").createServer();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
