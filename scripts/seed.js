#!/usr/bin/env node
/**
 * `npm run seed`: São Paulo demo data (dist/lib/infra/seed.js) through the real flows. Idempotent.
 *
 * - Cluster (TRANSPORTER set): joins the platform as a service-less node in NAMESPACE for the
 *   internal calls (creating and activating suppliers and couriers) and talks HTTP to GATEWAY_URL
 *   (default http://127.0.0.1:3000) for everything else.
 * - One process (no TRANSPORTER): an embedded platform's broker cannot be joined from outside, so
 *   the seed starts the platform itself on the same DATA_DIR and PORT, seeds it and stops. When a
 *   platform already answers on GATEWAY_URL, stop it first, or run `seed` in its REPL (`npm run repl`).
 */
"use strict";
const path = require("path");
require("./build-if-needed");

const root = path.resolve(__dirname, "..");
const dist = (...p) => path.join(root, "dist", ...p);

async function answers(url) {
	return fetch(`${url}/api/health/live`, { signal: AbortSignal.timeout(1500) })
		.then(() => true)
		.catch(() => false);
}

async function waitFor(what, fn, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (await Promise.resolve(fn()).catch(() => false)) return;
		if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function joinCluster(gatewayUrl) {
	const { ServiceBroker } = require("moleculer");
	const broker = new ServiceBroker({
		namespace: process.env.NAMESPACE || "",
		nodeID: `seed-${process.pid}`,
		transporter: process.env.TRANSPORTER,
		serializer: "JSON",
		logger: false,
		requestTimeout: 30_000,
	});
	await broker.start();
	process.stdout.write(`Joined ${process.env.TRANSPORTER}; waiting for the services …\n`);
	await broker.waitForServices(["users", "products", "orders", "payments", "couriers"], 60_000);
	await waitFor(`gateway at ${gatewayUrl}`, () => answers(gatewayUrl), 30_000);
	return { broker, gatewayUrl, stop: () => broker.stop() };
}

async function startEmbedded(gatewayUrl) {
	if (await answers(gatewayUrl)) {
		process.stderr.write(
			`A platform already answers on ${gatewayUrl} in one process (no TRANSPORTER): its broker cannot be joined from here.\n` +
				"Uma plataforma já responde nesse endereço: pare-a e rode `npm run seed`, ou use `seed` no REPL (`npm run repl`).\n" +
				"Stop it and run `npm run seed` again, or start it with `npm run repl` and type `seed`.\n",
		);
		process.exit(1);
	}
	process.env.LOG_LEVEL = process.env.LOG_LEVEL || "warn";
	process.env.PORT = process.env.PORT || new URL(gatewayUrl).port || "3000";
	const { checkSettings, describeProblem } = require(dist("lib", "infra", "config-check.js"));
	const problems = checkSettings(process.env);
	if (problems.length) {
		for (const p of problems) process.stderr.write(describeProblem(p) + "\n");
		process.exit(78);
	}
	const { ServiceBroker } = require("moleculer");
	const brokerOptions = require(dist("moleculer.config.js"));
	const broker = new ServiceBroker({ ...brokerOptions(), replCommands: null });
	broker.loadServices(dist("services"), "*.service.js");
	process.stdout.write("Starting the platform in this process (no TRANSPORTER) …\n");
	await broker.start();
	await waitFor(
		"the first admin",
		async () => (await broker.call("users.idsByRole", { role: "admin" })).length > 0,
		15_000,
	);
	await waitFor(`gateway at ${gatewayUrl}`, () => answers(gatewayUrl), 15_000);
	return { broker, gatewayUrl, stop: () => broker.stop() };
}

async function main() {
	const gatewayUrl = (process.env.GATEWAY_URL || `http://127.0.0.1:${process.env.PORT || "3000"}`).replace(/\/$/, "");
	const platform = process.env.TRANSPORTER ? await joinCluster(gatewayUrl) : await startEmbedded(gatewayUrl);
	const { seed, formatSeedSummary } = require(dist("lib", "infra", "seed.js"));
	const { seedOutput } = require(dist("lib", "infra", "seed-progress.js"));
	const output = seedOutput(process.stdout);
	try {
		const summary = await seed({ broker: platform.broker, gatewayUrl: platform.gatewayUrl, ...output }).finally(() =>
			output.done(),
		);
		process.stdout.write("\n" + formatSeedSummary(summary) + "\n");
	} finally {
		await platform.stop();
	}
}

main().catch((err) => {
	process.stderr.write(`seed failed: ${err && err.stack ? err.stack : err}\n`);
	process.exit(1);
});
