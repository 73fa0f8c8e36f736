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
process.env.SERVICEDIR = process.env.SERVICEDIR || path.join(root, "dist", "services");
const args = [
	process.argv[0],
	"moleculer-runner",
	"--config",
	path.join(root, "dist", "moleculer.config.js"),
	...process.argv.slice(2),
];
new GasRapidoRunner().start(args);
