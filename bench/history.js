#!/usr/bin/env node
/**
 * Does the embedded default hold a month of orders? Fills the whole platform (one process,
 * `node scripts/start.js`, the embedded default on a DATA_DIR on disk) with orders through the
 * gateway and, at each checkpoint, prints what an operator would look at: RSS, DATA_DIR size, start
 * to ready after a restart on the same data, orders/s and POST p99 around that point, and at the end
 * a supplier's and an admin's `GET /api/orders` p50/p99 and the events published vs handled.
 *
 *   npm run bench:history -- [--orders 100000] [--checkpoints 0,25000,50000,100000] [--concurrency 20]
 *        [--window 2000] [--deliver] [--keep]
 *   npm run bench:history -- --reuse <kept DATA_DIR> --reuse-pid <that run's pid> --stored <orders> [--deliver]
 *
 * --deliver: a month of history rather than a pile of open orders: each client, after each order,
 * takes an order placed at least a second earlier and has the admin carry it (in_transit, then
 * delivered), as couriers would; orders/s still counts the orders placed.
 *
 * The platform runs in a child process (its RSS is the platform's alone). This process joins it over
 * NATS (a private NAMESPACE) only to create the supplier without the verification round trip;
 * durable events stay on the embedded SQLite queue (CHANNELS_ADAPTER=sqlite), data in SQLite files.
 */
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { option, flag, httpClient, percentile } = require("./common");
const {
	freePort,
	waitReady,
	childRss,
	dirSizeMb,
	joinCluster,
	setUpMarket,
	reuseMarket,
	newOrder,
} = require("./history-lib");

const ORDERS = Number(option("orders", 100_000));
// --reuse <DATA_DIR> --reuse-pid <pid> --stored <n>: measure again on the data an earlier run kept
// (--keep), e.g. after a change, without filling it again: one checkpoint at <n> orders.
const REUSE = option("reuse", "");
const REUSE_PID = option("reuse-pid", "");
const STORED = Number(option("stored", 0));
const CHECKPOINTS = REUSE
	? [STORED]
	: option("checkpoints", "0,25000,50000,100000")
			.split(",")
			.map(Number)
			.filter((n) => n <= ORDERS);
const CONCURRENCY = Number(option("concurrency", 20));
const WINDOW = Number(option("window", 2000));
const DELIVER = flag("deliver");
const DELIVER_AFTER_MS = 1000;
const NATS = process.env.NATS_URL || "nats://127.0.0.1:4222";
const GOALS = { rssMb: 400, startS: 3, throughputDrop: 0.1, listP99Ms: 20, lost: 0 };

const ROOT = path.resolve(__dirname, "..");
const request = httpClient(CONCURRENCY + 4);

function platformEnv(dataDir, port, metricsPort, namespace) {
	return {
		...process.env,
		DATA_DIR: dataDir,
		PORT: String(port),
		METRICS_PORT: String(metricsPort),
		LOG_LEVEL: "warn",
		RATE_LIMIT_MAX: "1000000000",
		AUTH_RATE_LIMIT_MAX: "1000000000",
		JWT_EXPIRES_IN: "12h",
		TRANSPORTER: NATS,
		CHANNELS_ADAPTER: "sqlite",
		CACHER: "Memory",
		NAMESPACE: namespace,
		JWT_SECRET: "bench-history-secret-0123456789abcdef0123456789abcdef",
		DOCUMENTS_KEY: crypto.createHash("sha256").update("bench").digest("hex"),
		ADMIN_EMAIL: "admin@bench.local",
		ADMIN_PASSWORD: "bench-admin-password-1",
	};
}

/** Starts the platform; resolves with the child and the seconds from spawn to ready. */
async function startPlatform(env, base) {
	const started = Date.now();
	const child = spawn(process.execPath, [path.join(ROOT, "scripts", "start.js")], {
		env,
		stdio: ["ignore", "ignore", "pipe"],
	});
	child.stderr.on("data", (d) => process.stderr.write(`[platform] ${d}`));
	await waitReady(base, 120_000);
	return { child, startS: (Date.now() - started) / 1000 };
}

async function stopPlatform(child) {
	const exited = new Promise((resolve) => child.once("exit", resolve));
	child.kill("SIGTERM");
	const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
	await exited;
	clearTimeout(timer);
}

/** Orders placed and not yet delivered (--deliver), oldest first: { id, at }. */
const toDeliver = [];
let deliveryFailures = 0;

/** The admin carries the oldest order placed over a second ago: in_transit, then delivered. */
async function deliverOne(base, market) {
	if (toDeliver.length === 0 || Date.now() - toDeliver[0].at < DELIVER_AFTER_MS) return;
	const { id } = toDeliver.shift();
	for (const status of ["in_transit", "delivered"]) {
		const res = await request(base, "PUT", `/api/orders/${id}/status`, { status }, market.admin.token).catch(
			() => null,
		);
		if (!res || res.status !== 200) {
			deliveryFailures++;
			return;
		}
	}
}

/** Posts `count` orders with CONCURRENCY clients; returns throughput and POST latencies. */
async function placeOrders(base, market, count) {
	const latencies = [];
	let next = 0;
	let failed = 0;
	const started = Date.now();
	async function client() {
		while (next < count) {
			const n = next++;
			const customer = market.customers[n % market.customers.length];
			const t0 = process.hrtime.bigint();
			const res = await request(base, "POST", "/api/orders", newOrder(market), customer.token).catch(() => null);
			latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
			if (!res || res.status !== 201) failed++;
			else if (DELIVER) {
				toDeliver.push({ id: res.body.id, at: Date.now() });
				await deliverOne(base, market);
			}
		}
	}
	await Promise.all(Array.from({ length: CONCURRENCY }, client));
	const seconds = (Date.now() - started) / 1000;
	latencies.sort((a, b) => a - b);
	return { perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

async function listLatencies(base, token, n = 200) {
	const times = [];
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		const res = await request(base, "GET", "/api/orders?pageSize=20", undefined, token);
		if (res.status !== 200) throw new Error(`list failed: ${res.status} ${JSON.stringify(res.body)}`);
		times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	times.sort((a, b) => a - b);
	return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** published vs handled per topic and group, from the platform's own Prometheus metrics. */
async function eventCounts(metricsPort) {
	const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
	const sum = (name) => {
		const out = {};
		for (const line of text.split("\n")) {
			if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
			const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
			const key = labels.group ? `${labels.topic}/${labels.group}` : labels.topic;
			out[key] = (out[key] || 0) + Number(line.split(" ").pop());
		}
		return out;
	};
	return {
		published: sum("gasrapido_events_published_total"),
		handled: sum("gasrapido_events_handled_total"),
		backlog: sum("gasrapido_events_backlog"),
		deadLettered: sum("gasrapido_events_dead_lettered_total"),
	};
}

function lostEvents(counts) {
	let lost = 0;
	for (const [key, handled] of Object.entries(counts.handled)) {
		const topic = key.split("/")[0];
		lost += Math.max(0, (counts.published[topic] || 0) - handled);
	}
	return lost;
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "—");

async function main() {
	const dataDir = REUSE ? path.resolve(REUSE) : fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-history-"));
	const [port, metricsPort] = [await freePort(), await freePort()];
	const namespace = `hist${process.pid}`;
	const env = platformEnv(dataDir, port, metricsPort, namespace);
	const base = `http://127.0.0.1:${port}`;
	console.log(
		`bench:history — ${ORDERS} orders${DELIVER ? " (delivered behind the flood)" : ""}, checkpoints ${CHECKPOINTS.join(", ")}, DATA_DIR ${dataDir}`,
	);

	let platform = await startPlatform(env, base);
	const broker = await joinCluster(NATS, namespace);
	const stock = ORDERS + WINDOW * CHECKPOINTS.length + 100;
	const market = REUSE
		? await reuseMarket(base, request, { pid: REUSE_PID, stock })
		: await setUpMarket(broker, base, request, { stock });
	const rows = [];
	let stored = REUSE ? STORED : 0;
	for (const checkpoint of CHECKPOINTS) {
		if (checkpoint > stored) {
			const fill = await placeOrders(base, market, checkpoint - stored);
			stored = checkpoint;
			console.log(`  filled to ${stored} orders (${fmt(fill.perSecond)} orders/s, ${fill.failed} failed)`);
		}
		await stopPlatform(platform.child);
		platform = await startPlatform(env, base);
		const rssAfterStart = childRss(platform.child.pid);
		const step = await placeOrders(base, market, WINDOW);
		stored += WINDOW;
		rows.push({
			orders: checkpoint,
			rssMb: childRss(platform.child.pid),
			rssAfterStart,
			dataMb: dirSizeMb(dataDir),
			startS: platform.startS,
			perSecond: step.perSecond,
			p99: step.p99,
			failed: step.failed,
		});
		const r = rows[rows.length - 1];
		console.log(
			`  @${checkpoint}: RSS ${fmt(r.rssMb, 0)} MB, DATA_DIR ${fmt(r.dataMb, 0)} MB, start→ready ${fmt(r.startS, 2)} s, ${fmt(r.perSecond)} orders/s, POST p99 ${fmt(r.p99)} ms`,
		);
	}

	const supplierList = await listLatencies(base, market.supplier.token);
	const adminList = await listLatencies(base, market.admin.token);
	await new Promise((r) => setTimeout(r, 5000)); // let the consumers drain
	const counts = await eventCounts(metricsPort);
	const lost = lostEvents(counts);
	await stopPlatform(platform.child);
	await broker.stop();
	request.close();

	const first = rows[0];
	const last = rows[rows.length - 1];
	const drop = first && last ? 1 - last.perSecond / first.perSecond : NaN;
	const verdict = (ok) => (ok ? "met" : "NOT MET");
	console.log("\n| orders stored | RSS MB | DATA_DIR MB | start→ready s | orders/s | POST p99 ms |");
	console.log("|---|---|---|---|---|---|");
	for (const r of rows)
		console.log(
			`| ${r.orders} | ${fmt(r.rssMb, 0)} | ${fmt(r.dataMb, 0)} | ${fmt(r.startS, 2)} | ${fmt(r.perSecond)} | ${fmt(r.p99)} |`,
		);
	console.log(`\nAt ${last.orders} orders:`);
	console.log(`  RSS ${fmt(last.rssMb, 0)} MB (goal ≤ ${GOALS.rssMb}: ${verdict(last.rssMb <= GOALS.rssMb)})`);
	console.log(
		`  start→ready ${fmt(last.startS, 2)} s (goal ≤ ${GOALS.startS}: ${verdict(last.startS <= GOALS.startS)})`,
	);
	console.log(
		`  orders/s ${fmt(last.perSecond)} vs ${fmt(first.perSecond)} at ${first.orders} (goal: within 10%, drop ${fmt(drop * 100)}%: ${verdict(drop <= GOALS.throughputDrop)})`,
	);
	console.log(
		`  supplier GET /api/orders p50 ${fmt(supplierList.p50, 2)} ms, p99 ${fmt(supplierList.p99, 2)} ms (goal p99 ≤ ${GOALS.listP99Ms}: ${verdict(supplierList.p99 <= GOALS.listP99Ms)})`,
	);
	console.log(
		`  admin GET /api/orders p50 ${fmt(adminList.p50, 2)} ms, p99 ${fmt(adminList.p99, 2)} ms (goal p99 ≤ ${GOALS.listP99Ms}: ${verdict(adminList.p99 <= GOALS.listP99Ms)})`,
	);
	console.log(
		`  events: published ${Object.values(counts.published).reduce((a, b) => a + b, 0)}, lost ${lost}, dead-lettered ${Object.values(counts.deadLettered).reduce((a, b) => a + b, 0)} (goal 0 lost: ${verdict(lost === GOALS.lost)})`,
	);
	if (DELIVER)
		console.log(`  delivered behind the flood: ${toDeliver.length} left open, ${deliveryFailures} deliveries refused`);
	if (!flag("keep") && !REUSE) fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
