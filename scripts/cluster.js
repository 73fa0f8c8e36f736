#!/usr/bin/env node
/**
 * GasRápido as a cluster on this machine: the six service groups of the deployment, each its own
 * process (`node scripts/start.js`), talking over NATS (JetStream for the durable topics).
 *
 *   npm run cluster                 # NATS on nats://127.0.0.1:4222, gateway on http://127.0.0.1:3000
 *   TRANSPORTER=nats://host:4222 PORT=8080 CACHER=redis://127.0.0.1:6379 npm run cluster
 *
 * Every node gets the same NAMESPACE (gasrapido-local unless set), JWT_SECRET and DOCUMENTS_KEY
 * (random per run unless set: set them to keep tokens and uploaded documents across runs) and
 * its own HEALTH_PORT (HEALTH_PORT_BASE + i: 3101, 3102, ...) and METRICS_PORT (METRICS_PORT_BASE + i:
 * 3201, 3202, ...; METRICS_PORT=0 turns metrics off). Each group keeps its NeDB files under
 * DATA_DIR/<group> (default ./data/cluster/<group>). Logs are printed with the group's name in
 * front. Ctrl-C stops every process (SIGTERM, then SIGKILL after SHUTDOWN_GRACE_MS).
 *
 * Also a module: `startLocalCluster(options)` (used by bench/compare.js).
 */
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const net = require("net");
const path = require("path");
const readline = require("readline");

const ROOT = path.resolve(__dirname, "..");

const GROUPS = {
	gateway: ["api"],
	onboarding: ["users", "invitations", "verification", "proofs"],
	orders: ["orders", "payments", "vouchers"],
	products: ["products"],
	couriers: ["couriers"],
	watch: ["notifications", "analytics", "alerts", "reviews", "receipts"],
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

async function httpStatus(url) {
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
		await res.arrayBuffer();
		return res.status;
	} catch {
		return 0;
	}
}

/**
 * Starts the six groups and resolves when the gateway answers ready with every service present.
 * options: { env, port, healthPortBase (0 = free ports), dataDir (":memory:" or a folder),
 *            metricsPortBase (each node's Prometheus /metrics on base+1 … base+6; 0 or unset = off),
 *            quiet (no log lines), onLine(group, line) }
 * Returns { gatewayUrl, namespace, env, processes, stop() }.
 */
async function startLocalCluster(options = {}) {
	require("./build-if-needed"); // once here, so that the six start.js never build at the same time
	const base = { ...process.env, ...(options.env || {}) };
	const namespace = base.NAMESPACE || `gasrapido-${crypto.randomBytes(3).toString("hex")}`;
	const shared = {
		TRANSPORTER: base.TRANSPORTER || "nats://127.0.0.1:4222",
		NAMESPACE: namespace,
		JWT_SECRET: base.JWT_SECRET || crypto.randomBytes(32).toString("hex"),
		DOCUMENTS_KEY: base.DOCUMENTS_KEY || crypto.randomBytes(32).toString("hex"),
	};
	const port = options.port !== undefined ? options.port : Number(base.PORT || 3000);
	const dataDir = options.dataDir || base.DATA_DIR || path.join(ROOT, "data", "cluster");
	const healthBase =
		options.healthPortBase !== undefined ? options.healthPortBase : Number(base.HEALTH_PORT_BASE || 3100);
	const allServices = Object.values(GROUPS).flat();
	const metricsBase = Number(options.metricsPortBase || 0);

	const processes = [];
	const names = Object.keys(GROUPS);
	for (let i = 0; i < names.length; i++) {
		const group = names[i];
		const env = {
			...base,
			...shared,
			SERVICES: GROUPS[group].join(","),
			NODE_ID: `${group}-${namespace}`,
			HEALTH_PORT: String(healthBase > 0 ? healthBase + i + 1 : await freePort()),
			// one port per process: a shared METRICS_PORT made 5 of the 6 exit on EADDRINUSE
			METRICS_PORT: String(metricsBase > 0 ? metricsBase + i + 1 : 0),
			PORT: String(group === "gateway" ? port : 0),
			DATA_DIR: dataDir === ":memory:" ? ":memory:" : path.join(dataDir, group),
			...(group === "gateway" ? { REQUIRED_SERVICES: allServices.filter((s) => s !== "api").join(",") } : {}),
		};
		const child = spawn(process.execPath, [path.join(ROOT, "scripts", "start.js")], {
			cwd: ROOT,
			env,
			stdio: ["ignore", "pipe", "pipe"],
		});
		for (const stream of [child.stdout, child.stderr])
			readline.createInterface({ input: stream }).on("line", (line) => {
				if (options.onLine) options.onLine(group, line);
				else if (!options.quiet) process.stdout.write(`[${group.padEnd(10)}] ${line}\n`);
			});
		processes.push({ group, child, healthPort: Number(env.HEALTH_PORT), metricsPort: Number(env.METRICS_PORT) });
	}

	const stop = async (graceMs = Number(base.SHUTDOWN_GRACE_MS || 12_000)) => {
		await Promise.all(
			processes.map(
				({ child }) =>
					new Promise((resolve) => {
						if (child.exitCode !== null || child.signalCode !== null) return resolve();
						const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
						child.once("exit", () => {
							clearTimeout(timer);
							resolve();
						});
						child.kill("SIGTERM");
					}),
			),
		);
	};

	const gatewayUrl = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + Number(base.CLUSTER_READY_TIMEOUT_MS || 60_000);
	for (;;) {
		const dead = processes.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
		if (dead) {
			await stop(2000);
			throw new Error(`The ${dead.group} process exited before the cluster was ready (code ${dead.child.exitCode}).`);
		}
		if ((await httpStatus(`${gatewayUrl}/api/health/ready`)) === 200) break;
		if (Date.now() > deadline) {
			await stop(2000);
			throw new Error(`The cluster was not ready after ${base.CLUSTER_READY_TIMEOUT_MS || 60_000} ms.`);
		}
		await sleep(200);
	}
	await sleep(300); // the gateway rebuilds its routes shortly after the last service appears
	return { gatewayUrl, namespace, env: shared, processes, stop };
}

async function main() {
	const started = Date.now();
	// One namespace across runs, so the NeDB files under ./data/cluster and the JetStream streams match.
	const env = { NAMESPACE: process.env.NAMESPACE || "gasrapido-local" };
	// Each node's /metrics on its own port: METRICS_PORT_BASE + 1 … + 6 (default 3200; METRICS_PORT, when
	// set, is taken as that base, and METRICS_PORT=0 turns metrics off).
	const metricsPortBase = Number(process.env.METRICS_PORT_BASE ?? process.env.METRICS_PORT ?? 3200);
	if (!process.env.DOCUMENTS_KEY && process.env.DATA_DIR !== ":memory:")
		process.stdout.write(
			"DOCUMENTS_KEY is not set: a random key is used, so documents uploaded in this run cannot be read after a restart.\n",
		);
	const cluster = await startLocalCluster({ env, metricsPortBase });
	const seconds = ((Date.now() - started) / 1000).toFixed(1);
	process.stdout.write(
		[
			"",
			`GasRápido cluster ready in ${seconds} s: ${Object.keys(GROUPS).length} processes over ${cluster.env.TRANSPORTER} (namespace ${cluster.namespace})`,
			...cluster.processes.map(
				(p) =>
					`  ${p.group.padEnd(10)} pid ${p.child.pid}  http://127.0.0.1:${p.healthPort}/ready` +
					(p.metricsPort ? `  http://127.0.0.1:${p.metricsPort}/metrics` : "") +
					`  (${GROUPS[p.group].join(", ")})`,
			),
			`Gateway: ${cluster.gatewayUrl}`,
			"Ctrl-C stops them all.",
			"",
		].join("\n"),
	);
	let stopping = false;
	const shutdown = async () => {
		if (stopping) return;
		stopping = true;
		process.stdout.write("\nStopping the cluster ...\n");
		await cluster.stop();
		process.exit(0);
	};
	process.on("SIGINT", shutdown);
	process.on("SIGTERM", shutdown);
	for (const { group, child } of cluster.processes)
		child.on("exit", (code, signal) => {
			if (!stopping)
				process.stdout.write(`[${group}] exited (code ${code}, signal ${signal}); the others keep running.\n`);
		});
}

module.exports = { GROUPS, startLocalCluster };

if (require.main === module)
	main().catch((err) => {
		console.error(err.message || err);
		process.exit(1);
	});
