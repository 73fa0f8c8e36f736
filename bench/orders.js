#!/usr/bin/env node
/**
 * Concurrent order creation through the gateway, until every order is confirmed by the saga
 * (stock reserved → order.created → payment charged → payment.processed → confirmed).
 * Prints orders per second to confirmed and latency percentiles of the POST and of the saga.
 *
 *   npm run bench:orders -- [--orders 500] [--concurrency 20] [--customers 50]
 *        [--services api,users,products,orders,payments] [--target http://host:port] [--json]
 *
 * Without --target it starts the platform in this process from dist/ (in memory; every service in
 * dist/services unless --services narrows it), so load generator and server share one CPU core and
 * the figures are a floor. With --target it drives a running gateway; the supplier is created through
 * the cluster (users.create + users.activate), so TRANSPORTER (and NAMESPACE) must name it, as for
 * any node. `startPlatform()` is the part to swap for other setups (e.g. one process vs NATS).
 * --json prints one JSON line with the figures (for scripts comparing setups).
 */
"use strict";
const fs = require("fs");
const {
	option,
	flag,
	benchEnvironment,
	dist,
	startPlatform: start,
	httpClient,
	inBatches,
	percentile,
} = require("./common");

const ORDERS = Number(option("orders", process.env.BENCH_ORDERS || 500));
const CONCURRENCY = Number(option("concurrency", process.env.BENCH_CONCURRENCY || 20));
const CUSTOMERS = Number(option("customers", process.env.BENCH_CUSTOMERS || 50));
const TARGET = option("target", process.env.BENCH_TARGET || "");
const SERVICES = option("services", process.env.BENCH_SERVICES || "");
const CONFIRM_TIMEOUT_MS = Number(option("timeout", 120)) * 1000;
const JSON_OUT = flag("json");
const PASSWORD = "bench-password-1";
const HOME = { lat: -23.5505, lng: -46.6333 };
const CARD_OK = "4242424242424242";

benchEnvironment(TARGET);
process.env.RECONCILE_INTERVAL_MS = process.env.RECONCILE_INTERVAL_MS || "0";
const log = (...args) => (JSON_OUT ? console.error(...args) : console.log(...args));

/** Every service compiled into dist/services (the whole platform), or the ones named by --services. */
function serviceNames() {
	if (SERVICES) return SERVICES.split(",").filter(Boolean);
	return fs
		.readdirSync(dist("services"))
		.filter((f) => f.endsWith(".service.js"))
		.map((f) => f.replace(/\.service\.js$/, ""));
}

/** Starts what is measured and returns { broker, base, services }; the broker is used for internal calls. */
async function startPlatform() {
	const services = serviceNames();
	const started = await start({
		nodeID: `bench-orders-${process.pid}`,
		services,
		target: TARGET,
		needs: ["users", "products"],
	});
	return { ...started, services: TARGET ? "remote" : services.join(",") };
}

const request = httpClient(Math.max(CONCURRENCY, 10));

async function login(base, email) {
	const res = await request(base, "POST", "/api/auth/login", { email, password: PASSWORD });
	if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body.token;
}

/** An active supplier (as verification would leave it) with one product holding enough stock. */
async function setUpSupplier(broker, base) {
	const email = `bench-supplier-${process.pid}-${Date.now()}@bench.local`;
	const user = await broker.call("users.create", {
		email,
		password: PASSWORD,
		name: "Bench Gás",
		role: "supplier",
		status: "pending_verification",
		supplierProfile: {
			businessName: "Bench Gás",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 20,
			openingHours: { open: "00:00", close: "23:59" },
		},
	});
	await broker.call("users.activate", { id: user.id, verified: { anpAuthorization: "ANP-BENCH" } });
	for (let i = 0; i < 500 && !(await broker.call("products.supplierProfile", { supplierId: user.id })); i++)
		await new Promise((r) => setTimeout(r, 20));
	const token = await login(base, email);
	const product = await request(
		base,
		"POST",
		"/api/products",
		{ type: "P13", priceCents: 11000, depositCents: 15000, stock: ORDERS + 10 },
		token,
	);
	if (product.status !== 201) throw new Error(`product failed: ${product.status} ${JSON.stringify(product.body)}`);
	return { id: user.id, token, productId: product.body.id };
}

async function setUpCustomer(base, n) {
	const email = `bench-customer-${process.pid}-${Date.now()}-${n}@bench.local`;
	const res = await request(base, "POST", "/api/users", { email, password: PASSWORD, name: `Customer ${n}` });
	if (res.status !== 201 && res.status !== 200)
		throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
	return { id: res.body.id, token: await login(base, email) };
}

/** CONCURRENCY workers posting orders until ORDERS have been sent. */
async function fireOrders(base, supplier, customers) {
	const stats = { latenciesMs: [], byStatus: {}, errors: 0, created: [] };
	let next = 0;
	async function worker() {
		while (next < ORDERS) {
			const n = next++;
			const customer = customers[n % customers.length];
			const body = {
				supplierId: supplier.id,
				items: [{ productId: supplier.productId, quantity: 1, exchange: true }],
				deliveryAddress: { street: "Praça da Sé", city: "São Paulo", ...HOME },
				paymentMethod: "card",
				paymentToken: CARD_OK,
			};
			const started = process.hrtime.bigint();
			try {
				const res = await request(base, "POST", "/api/orders", body, customer.token);
				stats.latenciesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
				stats.byStatus[res.status] = (stats.byStatus[res.status] || 0) + 1;
				if (res.status === 201) stats.created.push(res.body.id);
			} catch {
				stats.errors++;
			}
		}
	}
	await Promise.all(Array.from({ length: CONCURRENCY }, worker));
	return stats;
}

/** Polls the supplier's confirmed orders until `expected` are confirmed; returns when that was seen. */
async function waitUntilConfirmed(base, supplier, expected) {
	const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
	for (;;) {
		const res = await request(
			base,
			"GET",
			"/api/orders?status=confirmed&pageSize=1&withTotal=true",
			undefined,
			supplier.token,
		);
		const confirmed = res.body ? res.body.total : 0;
		if (confirmed >= expected) return { at: Date.now(), confirmed };
		if (Date.now() > deadline) return { at: Date.now(), confirmed, timedOut: true };
		await new Promise((r) => setTimeout(r, 25));
	}
}

/** created → confirmed of every order, from the orders' own timestamps. */
async function sagaLatencies(base, supplier) {
	const out = [];
	for (let page = 1; ; page++) {
		const res = await request(
			base,
			"GET",
			`/api/orders?status=confirmed&pageSize=100&page=${page}`,
			undefined,
			supplier.token,
		);
		for (const o of res.body.rows) out.push(Date.parse(o.confirmedAt) - Date.parse(o.createdAt));
		if (res.body.rows.length < 100) break;
	}
	return out.sort((a, b) => a - b);
}

async function main() {
	const platform = await startPlatform();
	const { broker, base } = platform;
	const setupStarted = Date.now();
	const supplier = await setUpSupplier(broker, base);
	const customers = await inBatches(
		Array.from({ length: CUSTOMERS }, (_, i) => i),
		10,
		(n) => setUpCustomer(base, n),
	);
	log(
		`ready in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s: 1 supplier, ${CUSTOMERS} customers; ${ORDERS} orders, concurrency ${CONCURRENCY}, to ${base} (${platform.services})`,
	);

	const started = Date.now();
	const stats = await fireOrders(base, supplier, customers);
	const postedAt = Date.now();
	const done = await waitUntilConfirmed(base, supplier, stats.created.length);
	const toConfirmedS = (done.at - started) / 1000;
	const posts = stats.latenciesMs.sort((a, b) => a - b);
	const saga = await sagaLatencies(base, supplier);

	const result = {
		orders: ORDERS,
		concurrency: CONCURRENCY,
		created: stats.created.length,
		confirmed: done.confirmed,
		statuses: stats.byStatus,
		errors: stats.errors,
		postSeconds: (postedAt - started) / 1000,
		postsPerSecond: stats.created.length / ((postedAt - started) / 1000),
		confirmedSeconds: toConfirmedS,
		confirmedPerSecond: done.confirmed / toConfirmedS,
		postLatencyMs: {
			p50: percentile(posts, 50),
			p95: percentile(posts, 95),
			p99: percentile(posts, 99),
			max: posts[posts.length - 1],
		},
		sagaLatencyMs: {
			p50: percentile(saga, 50),
			p95: percentile(saga, 95),
			p99: percentile(saga, 99),
			max: saga[saga.length - 1],
		},
	};
	const fmt = (v) => `${Number(v).toFixed(1)} ms`;
	log(
		`POST /api/orders: ${result.created} created in ${result.postSeconds.toFixed(2)} s = ${result.postsPerSecond.toFixed(0)} orders/s; statuses ${JSON.stringify(stats.byStatus)}, errors ${stats.errors}`,
	);
	log(
		`confirmed: ${result.confirmed}/${result.created} in ${toConfirmedS.toFixed(2)} s = ${result.confirmedPerSecond.toFixed(0)} orders/s to confirmed${done.timedOut ? " (TIMED OUT)" : ""}`,
	);
	log(
		`POST latency   p50 ${fmt(result.postLatencyMs.p50)}  p95 ${fmt(result.postLatencyMs.p95)}  p99 ${fmt(result.postLatencyMs.p99)}  max ${fmt(result.postLatencyMs.max)}`,
	);
	log(
		`created→confirmed p50 ${fmt(result.sagaLatencyMs.p50)}  p95 ${fmt(result.sagaLatencyMs.p95)}  p99 ${fmt(result.sagaLatencyMs.p99)}  max ${fmt(result.sagaLatencyMs.max)}`,
	);
	if (JSON_OUT) console.log(JSON.stringify(result));

	request.close();
	await broker.stop();
	process.exit(stats.errors > 0 || done.timedOut || result.created !== ORDERS ? 1 : 0);
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
