#!/usr/bin/env node
// Starts a node with moleculer-runner from the compiled dist/. SERVICES=a,b picks services by
// name from dist/services (moleculer-runner resolves them against SERVICEDIR); unset = all.
"use strict";
const path = require("path");
require("./build-if-needed");
const { Runner } = require("moleculer");

/**
 * moleculer-runner overwrites broker options from env vars named like them (CACHER, TRANSPORTER,
 * NAMESPACE…), which would replace moleculer.config.ts's cacher object (prefix, TTL) by a bare URL.
 * Every setting is read in lib/config.ts, so that overwrite is switched off.
 */
class GasRapidoRunner extends Runner {
	overwriteFromEnv(obj) {
		return obj;
	}
}

const root = path.resolve(__dirname, "..");

/**
 * Every setting is checked before the broker is built (dist/lib/infra/config-check.js): each invalid
 * one is a log line of its own, in the node's log format, and the node exits with code 78 (EX_CONFIG).
 */
function refuseInvalidSettings() {
	const { checkSettings, describeProblem, EXIT_CODES } = require(
		path.join(root, "dist", "lib", "infra", "config-check.js"),
	);
	const problems = checkSettings(process.env);
	if (problems.length === 0) return;
	const pretty = process.env.LOG_FORMAT === "pretty";
	for (const p of problems) {
		const msg = describeProblem(p);
		const line = pretty
			? `[${new Date().toISOString()}] FATAL config: ${msg}`
			: JSON.stringify({
					level: 60,
					time: new Date().toISOString(),
					mod: "config",
					setting: p.variable,
					exitCode: EXIT_CODES.config,
					msg,
				});
		process.stdout.write(line + "\n");
	}
	process.exit(EXIT_CODES.config);
}
refuseInvalidSettings();
process.env.SERVICEDIR = process.env.SERVICEDIR || path.join(root, "dist", "services");
const args = [
	process.argv[0],
	"moleculer-runner",
	"--config",
	path.join(root, "dist", "moleculer.config.js"),
	...process.argv.slice(2),
];
new GasRapidoRunner().start(args);
