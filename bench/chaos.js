#!/usr/bin/env node
/**
 * Crash a flooded platform and check that every order ends paid-and-confirmed or
 * cancelled-and-refunded, by itself: no order lost, none charged twice, none stuck, no stock drift.
 *
 *   npm run bench:chaos -- [--mode embedded|cluster] [--kills 3] [--clients 20] [--flood-seconds 10]
 *        [--repair-timeout 60] [--seed 42] [--signal KILL|TERM|none] [--mix card=8,pix=1,cash=1]
 *        [--env KEY=VALUE,...] [--json]
 *
 * Per kill: a fresh platform (embedded: `node scripts/start.js` on a temp DATA_DIR; cluster: one
 * process per service group over NATS with a fresh PostgreSQL database and NAMESPACE), a market set
 * up through the API, --clients clients ordering in a loop for --flood-seconds (every order with its
 * own Idempotency-Key, retried with the same key until answered), one process killed at a random
 * moment of the flood (cluster: the orders group, then the payments group, alternately) and
 * restarted at once; then the store is read (read-only) every second for up to --repair-timeout
 * seconds after the restart. See bench/README.md for what each figure means.
 */
"use strict";
const chaos = require("./chaos-lib");

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

function pairs(text) {
	return Object.fromEntries(
		text
			.split(",")
			.filter(Boolean)
			.map((kv) => {
				const i = kv.indexOf("=");
				return [kv.slice(0, i), kv.slice(i + 1)];
			}),
	);
}

const MODES = option("mode", "embedded,cluster").split(",");
const KILLS = Number(option("kills", 3));
const CLIENTS = Number(option("clients", 20));
const FLOOD_SECONDS = Number(option("flood-seconds", 10));
const REPAIR_TIMEOUT_S = Number(option("repair-timeout", 60));
const SEED = Number(option("seed", Date.now() % 1_000_000));
// KILL (kill -9), TERM, or none (a control run: the same flood and checks, nothing killed)
const SIGNAL_OPTION = option("signal", "KILL");
const SIGNAL = SIGNAL_OPTION === "none" ? "none" : `SIG${SIGNAL_OPTION.toUpperCase().replace(/^SIG/, "")}`;
const MIX = Object.fromEntries(
	Object.entries(pairs(option("mix", "card=8,pix=1,cash=1"))).map(([k, v]) => [k, Number(v)]),
);
const ENV = pairs(option("env", process.env.CHAOS_ENV || ""));
const JSON_OUT = process.argv.includes("--json");
const log = (...args) => (JSON_OUT ? console.error(...args) : console.log(...args));

async function runMode(mode, random) {
	const results = [];
	for (let index = 0; index < KILLS; index++) {
		log(`\n[${mode}] kill ${index + 1}/${KILLS}: ${CLIENTS} clients, ${FLOOD_SECONDS} s flood, ${SIGNAL}`);
		const result = await chaos.runKill(mode, {
			index,
			victims: ["orders", "payments"],
			clients: CLIENTS,
			floodSeconds: FLOOD_SECONDS,
			repairTimeoutS: REPAIR_TIMEOUT_S,
			signal: SIGNAL,
			random,
			mix: MIX,
			env: ENV,
			log,
		});
		log(chaos.killLine(result));
		results.push(result);
	}
	return results;
}

function printTotals(mode, results) {
	const t = chaos.totals(results);
	const met = chaos.goalMet(t, { requireKills: 3, signal: SIGNAL });
	log(
		`\n[${mode}] total over ${t.kills} kill(s) (${SIGNAL}): acknowledged ${t.acknowledged}, lost ${t.lost}, charged twice ${t.chargedTwice}, stuck ${t.stuck}, stock drift ${t.drift}, ${SIGNAL === "SIGTERM" ? `cut mid-answer ${t.midResponse}, refused (4xx) ${t.refused}, ` : ""}not repaired within 60 s: ${t.unrepaired} kill(s), slowest repair ${Number.isFinite(t.worstRepairS) ? `${t.worstRepairS.toFixed(1)} s` : "never"}`,
	);
	log(
		`[${mode}] goal: ${chaos.GOAL}${SIGNAL === "SIGTERM" ? "; with SIGTERM also 0 answers cut and 0 orders refused" : ""} → ${met ? "GOAL MET" : "GOAL NOT MET"}`,
	);
	return { totals: t, met };
}

async function main() {
	log(
		`chaos: modes ${MODES.join(", ")}, seed ${SEED}, mix ${JSON.stringify(MIX)}${Object.keys(ENV).length ? `, env ${JSON.stringify(ENV)}` : ""}`,
	);
	const random = chaos.seededRandom(SEED);
	const summary = {};
	for (const mode of MODES) {
		const results = await runMode(mode, random);
		summary[mode] = { results, ...printTotals(mode, results) };
	}
	if (JSON_OUT) console.log(JSON.stringify({ seed: SEED, signal: SIGNAL, summary }));
	process.exit(Object.values(summary).every((s) => s.met) ? 0 : 1);
}

main().catch((err) => {
	console.error(err);
	process.exit(2);
});
