#!/usr/bin/env node
/**
 * Soak test of the durable in-process events (SQLite channels adapter): N producers publish for S
 * seconds to one topic consumed by 3 consumer groups, then the consumers drain; prints published,
 * handled per group, lost (published − handled after the drain), duplicates, max backlog, RSS.
 *
 *   node bench/events-soak.js [--producers 4] [--seconds 60] [--rate 0] [--handler-ms 1]
 *                             [--max-in-flight 50] [--data-dir <dir>|:memory:] [--drain-seconds 300] [--json]
 *
 * --rate: messages per second per producer (0 = as fast as the producer gets the CPU).
 * --data-dir: default a fresh temporary folder (a real file, as in production), removed afterwards.
 * Runs the TypeScript sources through ts-node (transpile only); no build needed.
 */
"use strict";
require("ts-node").register({ transpileOnly: true });
const fs = require("fs");
const os = require("os");
const path = require("path");

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const flag = (name) => process.argv.includes(`--${name}`);

const PRODUCERS = Number(option("producers", 4));
const SECONDS = Number(option("seconds", 60));
const RATE = Number(option("rate", 0));
const HANDLER_MS = Number(option("handler-ms", 1));
const MAX_IN_FLIGHT = Number(option("max-in-flight", 50));
const DRAIN_SECONDS = Number(option("drain-seconds", 300));
const GROUPS = ["soak-a", "soak-b", "soak-c"];
const TOPIC = "soak.events";

const tempDir = option("data-dir", null) ? null : fs.mkdtempSync(path.join(os.tmpdir(), "gr-soak-"));
const dataDir = option("data-dir", tempDir);
process.env.DATA_DIR = dataDir;
process.env.CHANNELS_ADAPTER = "sqlite";
process.env.LOG_LEVEL = process.env.LOG_LEVEL || "warn";
process.env.METRICS_PORT = "0";
process.env.EVENT_MAX_IN_FLIGHT = String(MAX_IN_FLIGHT);

const { ServiceBroker } = require("moleculer");
const brokerOptions = require("../moleculer.config");
const { EVENT_METRICS, eventMetricValue } = require("../lib/infra/event-metrics");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
const mb = (bytes) => Math.round(bytes / 1024 / 1024);

/** Deliveries per message id (a growable byte array, not a Set, so it does not dominate RSS). */
class DeliveryCounts {
	constructor() {
		this.counts = new Uint8Array(1 << 16);
		this.distinct = 0;
		this.total = 0;
	}
	add(id) {
		if (id >= this.counts.length) {
			const bigger = new Uint8Array(Math.max(this.counts.length * 2, id + 1));
			bigger.set(this.counts);
			this.counts = bigger;
		}
		if (this.counts[id] === 0) this.distinct++;
		if (this.counts[id] < 255) this.counts[id]++;
		this.total++;
	}
}

function consumer(group, counts) {
	return {
		name: group,
		channels: {
			[TOPIC]: {
				group,
				maxInFlight: MAX_IN_FLIGHT,
				async handler(payload) {
					if (HANDLER_MS > 0) await sleep(HANDLER_MS);
					counts.add(payload.id);
				},
			},
		},
	};
}

async function produce(broker, state, deadline) {
	const interval = RATE > 0 ? 1000 / RATE : 0;
	let next = Date.now();
	while (Date.now() < deadline) {
		const id = state.nextId++;
		await broker.sendToChannel(TOPIC, { id, at: Date.now(), body: "x".repeat(200) });
		state.published++;
		if (interval > 0) {
			next += interval;
			const wait = next - Date.now();
			if (wait > 0) await sleep(wait);
		} else await yieldToLoop();
	}
}

async function main() {
	const broker = new ServiceBroker({
		...brokerOptions(),
		nodeID: "events-soak",
		metrics: { enabled: true, reporter: [] },
	});
	const counts = Object.fromEntries(GROUPS.map((g) => [g, new DeliveryCounts()]));
	for (const group of GROUPS) broker.createService(consumer(group, counts[group]));
	await broker.start();
	const adapter = broker.channelAdapter;

	const state = { nextId: 0, published: 0 };
	let maxBacklog = 0;
	let maxRss = 0;
	const sampler = setInterval(() => {
		for (const g of GROUPS) maxBacklog = Math.max(maxBacklog, adapter.backlog(TOPIC, g));
		maxRss = Math.max(maxRss, process.memoryUsage().rss);
	}, 100);

	process.stderr.write(
		`Soak: ${PRODUCERS} producers × ${SECONDS}s${RATE ? ` at ${RATE}/s each` : ""}, 3 groups, handler ${HANDLER_MS} ms, maxInFlight ${MAX_IN_FLIGHT}, DATA_DIR ${dataDir}\n`,
	);
	const started = Date.now();
	const deadline = started + SECONDS * 1000;
	const progress = setInterval(() => {
		const handled = GROUPS.map((g) => counts[g].distinct).join(" / ");
		process.stderr.write(
			`  ${Math.round((Date.now() - started) / 1000)}s published ${state.published}, handled ${handled}, backlog max ${maxBacklog}, RSS ${mb(process.memoryUsage().rss)} MB\n`,
		);
	}, 10_000);
	await Promise.all(Array.from({ length: PRODUCERS }, () => produce(broker, state, deadline)));
	const publishSeconds = (Date.now() - started) / 1000;

	const drainDeadline = Date.now() + DRAIN_SECONDS * 1000;
	while (GROUPS.some((g) => counts[g].distinct < state.published) && Date.now() < drainDeadline) await sleep(100);
	const totalSeconds = (Date.now() - started) / 1000;
	clearInterval(progress);
	clearInterval(sampler);
	maxRss = Math.max(maxRss, process.memoryUsage().rss);

	const prunedNow = adapter.prune();
	const stored = adapter.storedMessageCount();
	const file = path.join(dataDir, "events.sqlite");
	const fileBytes = fs.existsSync(file) ? fs.statSync(file).size : 0;
	const walBytes = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
	const result = {
		producers: PRODUCERS,
		seconds: SECONDS,
		published: state.published,
		publishedMetric: eventMetricValue(broker, EVENT_METRICS.published, { topic: TOPIC }),
		publishPerSecond: Math.round(state.published / publishSeconds),
		handled: Object.fromEntries(GROUPS.map((g) => [g, counts[g].distinct])),
		handledMetric: Object.fromEntries(
			GROUPS.map((g) => [g, eventMetricValue(broker, EVENT_METRICS.handled, { topic: TOPIC, group: g })]),
		),
		duplicates: Object.fromEntries(GROUPS.map((g) => [g, counts[g].total - counts[g].distinct])),
		lost: Object.fromEntries(GROUPS.map((g) => [g, state.published - counts[g].distinct])),
		drainSeconds: Math.round((totalSeconds - publishSeconds) * 10) / 10,
		maxBacklog,
		maxRssMB: mb(maxRss),
		storedAfterPrune: stored,
		prunedAtEnd: prunedNow,
		fileMB: Math.round(((fileBytes + walBytes) / 1024 / 1024) * 10) / 10,
	};
	await broker.stop();
	if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });

	const totalLost = Object.values(result.lost).reduce((a, b) => a + b, 0);
	const line = (label, value, goal = "") => process.stderr.write(`${label.padEnd(22)} ${value}${goal}\n`);
	line("published", `${result.published} (${result.publishPerSecond}/s; metric ${result.publishedMetric})`);
	for (const g of GROUPS)
		line(
			`handled ${g}`,
			`${result.handled[g]} (metric ${result.handledMetric[g]}, duplicates ${result.duplicates[g]})`,
		);
	line(
		"lost",
		`${GROUPS.map((g) => result.lost[g]).join(" / ")}`,
		`   goal: lost = 0 → ${totalLost === 0 ? "met" : "MISSED"}`,
	);
	line("drain after producers", `${result.drainSeconds} s`);
	line("max backlog", `${result.maxBacklog} messages (one group)`);
	line("max RSS", `${result.maxRssMB} MB`);
	line("stored after pruning", `${result.storedAfterPrune} messages; file + WAL ${result.fileMB} MB at the end`);
	if (flag("json")) process.stdout.write(`${JSON.stringify(result)}\n`);
	process.exit(totalLost === 0 ? 0 : 1);
}

main().catch((err) => {
	process.stderr.write(`${err.stack || err}\n`);
	process.exit(1);
});
