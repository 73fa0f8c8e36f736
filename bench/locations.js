#!/usr/bin/env node
/**
 * Courier location updates through the gateway: PUT /api/couriers/:id/location from many couriers
 * at once for a fixed time; prints updates per second and latency percentiles.
 *
 *   npm run build && LOG_LEVEL=warn node bench/locations.js [--couriers 200] [--duration 10]
 *        [--interval 0] [--warmup 3] [--target http://host:port]
 *
 * Without --target it starts api + users + couriers in this process from dist/ (in memory) and
 * measures that; load generator and server then share one CPU core, so the figures are a floor.
 * With --target it hits a running gateway; the couriers are created through the cluster, so
 * TRANSPORTER (and NAMESPACE) must name it, as for any node.
 * --interval N: each courier reports every N ms (a city's real pattern); 0: as fast as answers come.
 */
"use strict";
const { option, benchEnvironment, startPlatform: start, httpClient, inBatches, percentile } = require("./common");

const COURIERS = Number(option("couriers", 200));
const DURATION_S = Number(option("duration", 10));
const INTERVAL_MS = Number(option("interval", 0));
const TARGET = option("target", "");
const WARMUP_S = Number(option("warmup", 3));
const PASSWORD = "bench-password-1";
const CENTER = { lat: -23.5505, lng: -46.6333 };

benchEnvironment(TARGET);

function startPlatform() {
	return start({
		nodeID: `bench-${process.pid}`,
		services: ["api", "users", "couriers"],
		target: TARGET,
		needs: ["users"],
	});
}

const request = httpClient(Math.max(COURIERS, 10));

/** An active courier with a profile, logged in over HTTP, and available. */
async function setUpCourier(broker, base, n) {
	const email = `bench-courier-${process.pid}-${n}@bench.local`;
	await broker.call("users.create", {
		email,
		password: PASSWORD,
		name: `Courier ${n}`,
		role: "courier",
		status: "active",
	});
	const login = await request(base, "POST", "/api/auth/login", { email, password: PASSWORD });
	if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
	const token = login.body.token;
	const id = login.body.user.id;
	const profile = await request(
		base,
		"POST",
		"/api/couriers",
		{ vehicle: { type: "motorcycle", plate: `BEN${String(n).padStart(4, "0")}` }, capacity: 4 },
		token,
	);
	if (profile.status !== 201) throw new Error(`profile failed: ${profile.status} ${JSON.stringify(profile.body)}`);
	await request(base, "PUT", `/api/couriers/${id}/status`, { status: "available" }, token);
	return { id, token, lat: CENTER.lat + (Math.random() - 0.5) * 0.1, lng: CENTER.lng + (Math.random() - 0.5) * 0.1 };
}

async function courierLoop(base, courier, until, stats) {
	// Couriers report on their own clocks: spread their first report over one interval.
	if (INTERVAL_MS > 0) await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_MS));
	while (Date.now() < until) {
		const loopStarted = Date.now();
		const started = process.hrtime.bigint();
		courier.lat += (Math.random() - 0.5) * 0.0005;
		courier.lng += (Math.random() - 0.5) * 0.0005;
		const body = {
			lat: courier.lat,
			lng: courier.lng,
			accuracy: 8,
			speed: 7.5,
			heading: 90,
			at: new Date().toISOString(),
		};
		try {
			const res = await request(base, "PUT", `/api/couriers/${courier.id}/location`, body, courier.token);
			stats.latenciesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
			stats.byStatus[res.status] = (stats.byStatus[res.status] || 0) + 1;
			if (res.status === 202 && res.body && res.body.accepted) stats.accepted++;
		} catch {
			stats.errors++;
		}
		if (INTERVAL_MS > 0)
			await new Promise((r) =>
				setTimeout(r, Math.max(0, Math.min(INTERVAL_MS - (Date.now() - loopStarted), until - Date.now()))),
			);
	}
}

async function main() {
	const { broker, base } = await startPlatform();
	const setupStarted = Date.now();
	const ids = Array.from({ length: COURIERS }, (_, i) => i);
	const couriers = await inBatches(ids, 20, (n) => setUpCourier(broker, base, n));
	console.log(
		`${COURIERS} couriers ready in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s; sending for ${DURATION_S} s to ${base}` +
			(INTERVAL_MS ? `, one update every ${INTERVAL_MS} ms each` : ", closed loop"),
	);

	// Warm-up (not measured): connections opened, code paths compiled, caches filled.
	const warmup = { latenciesMs: [], byStatus: {}, accepted: 0, errors: 0 };
	await Promise.all(couriers.map((c) => courierLoop(base, c, Date.now() + WARMUP_S * 1000, warmup)));

	const stats = { latenciesMs: [], byStatus: {}, accepted: 0, errors: 0 };
	const started = Date.now();
	const until = started + DURATION_S * 1000;
	await Promise.all(couriers.map((c) => courierLoop(base, c, until, stats)));
	const seconds = (Date.now() - started) / 1000;

	const sorted = stats.latenciesMs.sort((a, b) => a - b);
	const fmt = (v) => `${v.toFixed(1)} ms`;
	console.log(
		`updates: ${sorted.length} in ${seconds.toFixed(1)} s = ${(sorted.length / seconds).toFixed(0)} updates/s`,
	);
	console.log(`accepted: ${stats.accepted}, statuses: ${JSON.stringify(stats.byStatus)}, errors: ${stats.errors}`);
	console.log(
		`latency p50 ${fmt(percentile(sorted, 50))}  p95 ${fmt(percentile(sorted, 95))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted[sorted.length - 1] || NaN)}`,
	);
	request.close();
	await broker.stop();
	process.exit(stats.errors > 0 || !stats.byStatus[202] ? 1 : 0);
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
