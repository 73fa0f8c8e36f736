/**
 * What the benchmark scripts share: command-line options, the quiet environment they run in,
 * starting a broker from the compiled dist/ (or joining a running cluster with --target), a
 * keep-alive HTTP client, batching and percentiles.
 */
"use strict";
const http = require("http");
const path = require("path");

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const flag = (name) => process.argv.includes(`--${name}`);

/** Quiet logs and no rate limit; in memory on a free port unless measuring a running gateway. */
function benchEnvironment(target) {
	process.env.LOG_LEVEL = process.env.LOG_LEVEL || "warn";
	process.env.RATE_LIMIT_MAX = process.env.RATE_LIMIT_MAX || "100000000";
	process.env.AUTH_RATE_LIMIT_MAX = process.env.AUTH_RATE_LIMIT_MAX || "100000000";
	process.env.JWT_EXPIRES_IN = process.env.JWT_EXPIRES_IN || "12h";
	process.env.METRICS_PORT = process.env.METRICS_PORT || "0";
	if (!target) {
		process.env.DATA_DIR = process.env.DATA_DIR || ":memory:";
		process.env.PORT = process.env.PORT || "0";
	}
}

// BENCH_DIST: another build folder (e.g. to compare a change without touching dist/).
const dist = (...p) => path.resolve(process.env.BENCH_DIST || path.resolve(__dirname, "..", "dist"), ...p);

/**
 * A broker with `services` from dist/ (and the gateway's base URL), or, with `target`, a broker
 * that joins the cluster for internal calls (it waits for `needs`) and the target as base URL.
 */
async function startPlatform({ nodeID, services, target, needs }) {
	const { ServiceBroker } = require("moleculer");
	const options = require(dist("moleculer.config.js"));
	const broker = new ServiceBroker({ ...options(), nodeID });
	for (const name of target ? [] : services) broker.createService(require(dist("services", `${name}.service.js`)));
	await broker.start();
	if (target) {
		await broker.waitForServices(needs, 10_000);
		return { broker, base: target.replace(/\/$/, "") };
	}
	const api = broker.getLocalService("api");
	for (let i = 0; i < 250 && !api.isReady(); i++) await new Promise((r) => setTimeout(r, 20));
	return { broker, base: `http://127.0.0.1:${api.server.address().port}` };
}

/** request(base, method, path, body?, token?) → { status, body } over kept-alive sockets. */
function httpClient(maxSockets) {
	const agent = new http.Agent({ keepAlive: true, maxSockets });
	function request(base, method, urlPath, body, token) {
		const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
		const headers = { Accept: "application/json" };
		if (payload) Object.assign(headers, { "Content-Type": "application/json", "Content-Length": payload.length });
		if (token) headers.Authorization = `Bearer ${token}`;
		return new Promise((resolve, reject) => {
			const req = http.request(base + urlPath, { method, headers, agent }, (res) => {
				const chunks = [];
				res.on("data", (c) => chunks.push(c));
				res.on("end", () => {
					const text = Buffer.concat(chunks).toString();
					let json = null;
					try {
						json = text ? JSON.parse(text) : null;
					} catch {
						json = null;
					}
					resolve({ status: res.statusCode, body: json });
				});
			});
			req.on("error", (err) => {
				// A kept-alive socket the server closed just as we reused it: send again on a fresh one.
				if (req.reusedSocket && err.code === "ECONNRESET")
					request(base, method, urlPath, body, token).then(resolve, reject);
				else reject(err);
			});
			if (payload) req.write(payload);
			req.end();
		});
	}
	request.close = () => agent.destroy();
	return request;
}

async function inBatches(items, size, fn) {
	const out = [];
	for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
	return out;
}

function percentile(sorted, p) {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

module.exports = { option, flag, benchEnvironment, dist, startPlatform, httpClient, inBatches, percentile };
