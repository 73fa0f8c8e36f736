/**
 * The SQLite channels adapter (embedded default for durable events) with real brokers built from
 * moleculer.config.ts: backpressure without loss, retries and dead-lettering, durability across a
 * kill -9, consumer groups (including one that subscribes later), pruning.
 */
import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import readline from "readline";
import { ServiceBroker, ServiceSchema } from "moleculer";
import brokerOptions from "../../moleculer.config";
import { SqliteAdapter, SqliteRawMessage } from "../../lib/infra/channels/sqlite-adapter";
import { EVENT_METRICS, eventMetricValue, recordHandled, recordPublished } from "../../lib/infra/event-metrics";
import { waitFor } from "../helpers/broker";

type ChannelBroker = ServiceBroker & {
	sendToChannel(channel: string, payload: unknown): Promise<void>;
	channelAdapter: SqliteAdapter;
};

const ROOT = path.resolve(__dirname, "../..");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const brokers: ServiceBroker[] = [];
const tempDirs: string[] = [];

/** A broker from the real options with the SQLite adapter, metrics on (no reporter), and the given services. */
async function startBroker(services: ServiceSchema[], env: Record<string, string> = {}): Promise<ChannelBroker> {
	const saved: Record<string, string | undefined> = {};
	const settings: Record<string, string> = { CHANNELS_ADAPTER: "sqlite", EVENT_RETRY_BASE_MS: "10", ...env };
	for (const [key, value] of Object.entries(settings)) {
		saved[key] = process.env[key];
		process.env[key] = value;
	}
	try {
		const broker = new ServiceBroker({
			...brokerOptions(),
			nodeID: `channels-${Math.random().toString(36).slice(2, 8)}`,
			metrics: { enabled: true, reporter: [] },
		}) as ChannelBroker;
		for (const schema of services) broker.createService(schema);
		await broker.start();
		brokers.push(broker);
		expect(broker.channelAdapter).toBeInstanceOf(SqliteAdapter);
		return broker;
	} finally {
		for (const [key, value] of Object.entries(saved)) {
			if (value === undefined) delete process.env[key];
			else process.env[key] = value;
		}
	}
}

function tempDataDir(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gr-channels-"));
	tempDirs.push(dir);
	return dir;
}

/** A consumer of one channel as one group that records the payloads it handled. */
function recorder<T>(
	name: string,
	channel: string,
	handle: (payload: T, raw: SqliteRawMessage) => Promise<void> | void = () => undefined,
	options: { maxInFlight?: number; maxRetries?: number } = {},
) {
	const handled: T[] = [];
	const schema: ServiceSchema = {
		name,
		channels: {
			[channel]: {
				group: name,
				maxInFlight: options.maxInFlight ?? 5,
				...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
				async handler(payload: T, raw: SqliteRawMessage) {
					await handle(payload, raw);
					handled.push(payload);
				},
			},
		},
	};
	return { schema, handled };
}

function metric(broker: ServiceBroker, name: string, labels: Record<string, string>): number {
	return eventMetricValue(broker, name, labels);
}

afterEach(async () => {
	while (brokers.length) await brokers.pop()!.stop();
});

afterAll(() => {
	for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

test("the embedded default is the SQLite adapter, in memory when DATA_DIR is :memory:", async () => {
	const saved = process.env.CHANNELS_ADAPTER;
	delete process.env.CHANNELS_ADAPTER;
	try {
		const broker = new ServiceBroker({ ...brokerOptions(), nodeID: "default-adapter" }) as ChannelBroker;
		expect(broker.channelAdapter).toBeInstanceOf(SqliteAdapter);
		expect(broker.channelAdapter.sqlite.file).toBe(":memory:");
	} finally {
		if (saved !== undefined) process.env.CHANNELS_ADAPTER = saved;
	}
});

test("20,000 messages to a consumer slower than the producer: none lost, at most maxInFlight at once", async () => {
	const TOTAL = 20_000;
	let active = 0;
	let maxActive = 0;
	let maxBacklog = 0;
	const seen = new Set<number>();
	const consumer = recorder<{ i: number }>("slow", "load.x", async ({ i }) => {
		active++;
		maxActive = Math.max(maxActive, active);
		await sleep(2);
		seen.add(i);
		active--;
	});
	const broker = await startBroker([consumer.schema]);
	for (let i = 0; i < TOTAL; i++) await broker.sendToChannel("load.x", { i });
	maxBacklog = metric(broker, EVENT_METRICS.backlog, { topic: "load.x", group: "slow" });

	await waitFor(() => seen.size === TOTAL, 120_000, 100);
	expect(maxActive).toBeLessThanOrEqual(5);
	// Messages waited on disk rather than in a queue that could overflow.
	expect(maxBacklog).toBeGreaterThan(TOTAL / 2);
	await waitFor(() => metric(broker, EVENT_METRICS.backlog, { topic: "load.x", group: "slow" }) === 0);
	expect(metric(broker, EVENT_METRICS.published, { topic: "load.x" })).toBe(TOTAL);
	expect(metric(broker, EVENT_METRICS.handled, { topic: "load.x", group: "slow" })).toBe(TOTAL);
	expect(consumer.handled.length).toBeGreaterThanOrEqual(TOTAL);
}, 180_000);

test("a handler that fails twice is retried and handled; one that always fails is dead-lettered with the error", async () => {
	let flakyFailures = 0;
	const flaky = recorder<{ n: number }>(
		"flaky",
		"retry.x",
		() => {
			if (flakyFailures < 2) {
				flakyFailures++;
				throw new Error("temporary failure");
			}
		},
		{ maxRetries: 3 },
	);
	let doomedAttempts = 0;
	const doomed = recorder<{ n: number }>(
		"doomed",
		"retry.x",
		() => {
			doomedAttempts++;
			throw new Error("permanent failure");
		},
		{ maxRetries: 3 },
	);
	const letters: { payload: { n: number }; headers: Record<string, string> | undefined }[] = [];
	const watcher = recorder<{ n: number }>("dlq", "DEAD_LETTER", (payload, raw) => {
		letters.push({ payload, headers: raw.headers });
	});
	const broker = await startBroker([flaky.schema, doomed.schema, watcher.schema]);

	await broker.sendToChannel("retry.x", { n: 1 });
	await waitFor(() => flaky.handled.length === 1 && letters.length === 1, 10_000);
	expect(flakyFailures).toBe(2);
	expect(doomedAttempts).toBe(4); // the first delivery and maxRetries (3) retries
	expect(letters[0].payload).toEqual({ n: 1 });
	expect(letters[0].headers).toMatchObject({
		"x-original-channel": "retry.x",
		"x-original-group": "doomed",
		"x-error": "permanent failure",
	});
	expect(metric(broker, EVENT_METRICS.retried, { topic: "retry.x", group: "flaky" })).toBe(2);
	expect(metric(broker, EVENT_METRICS.handled, { topic: "retry.x", group: "flaky" })).toBe(1);
	expect(metric(broker, EVENT_METRICS.retried, { topic: "retry.x", group: "doomed" })).toBe(3);
	expect(metric(broker, EVENT_METRICS.deadLettered, { topic: "retry.x", group: "doomed" })).toBe(1);
	expect(metric(broker, EVENT_METRICS.handled, { topic: "retry.x", group: "doomed" })).toBe(0);
	// Nothing is left to deliver to either group: the doomed message was settled by dead-lettering.
	await waitFor(() => metric(broker, EVENT_METRICS.backlog, { topic: "retry.x", group: "doomed" }) === 0);
});

function spawnPublisher(dataDir: string): ChildProcess {
	return spawn(
		process.execPath,
		["-r", "ts-node/register/transpile-only", path.join(ROOT, "test/fixtures/channels-crash-child.ts")],
		{
			cwd: ROOT,
			env: { ...process.env, DATA_DIR: dataDir, CHANNELS_ADAPTER: "sqlite", LOG_LEVEL: "warn", METRICS_PORT: "0" },
			stdio: ["ignore", "pipe", "inherit"],
		},
	);
}

test("kill -9 with 500+ messages unacknowledged: a new broker on the same DATA_DIR handles every one", async () => {
	const dataDir = tempDataDir();
	const child = spawnPublisher(dataDir);
	let lastPublished = -1;
	const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
	await new Promise<void>((resolve, reject) => {
		const lines = readline.createInterface({ input: child.stdout! });
		lines.on("line", (line) => {
			const match = /^published (\d+)$/.exec(line);
			if (match) lastPublished = Number(match[1]);
			if (line === "ready") setTimeout(resolve, 100); // kill while it is still publishing
			if (line.startsWith("error")) reject(new Error(line));
		});
		child.on("exit", (code) => reject(new Error(`publisher exited early (${code})`)));
	});
	child.kill("SIGKILL");
	await exited;
	expect(lastPublished).toBeGreaterThanOrEqual(499);
	expect(fs.statSync(path.join(dataDir, "events.sqlite")).mode & 0o777).toBe(0o600);

	const seen = new Set<number>();
	const worker = recorder<{ i: number }>("worker", "crash.x", ({ i }) => {
		seen.add(i);
	});
	await startBroker([worker.schema], { DATA_DIR: dataDir });
	await waitFor(() => seen.size >= lastPublished + 1, 20_000, 50);
	for (let i = 0; i <= lastPublished; i++) expect(seen.has(i)).toBe(true);
}, 60_000);

test("two groups on one topic each get every message; a group that was away gets its backlog", async () => {
	const first = recorder<{ n: number }>("first", "multi.x");
	const second = recorder<{ n: number }>("second", "multi.x");
	const late = recorder<{ n: number }>("late", "multi.x");
	const broker = await startBroker([first.schema, second.schema]);

	// "late" subscribes once (its group becomes known), then goes away.
	const lateService = broker.createService(late.schema);
	await waitFor(() => broker.getLocalService("late"));
	await sleep(50);
	await broker.destroyService(lateService);

	for (let n = 0; n < 200; n++) await broker.sendToChannel("multi.x", { n });
	await waitFor(() => first.handled.length === 200 && second.handled.length === 200);
	expect(new Set(first.handled.map((p) => p.n)).size).toBe(200);
	expect(new Set(second.handled.map((p) => p.n)).size).toBe(200);

	// Pruning keeps what a known group has not handled yet.
	broker.channelAdapter.prune();
	expect(broker.channelAdapter.storedMessageCount()).toBe(200);

	broker.createService(late.schema);
	await waitFor(() => late.handled.length === 200);
	expect(late.handled.map((p) => p.n)).toEqual([...Array(200).keys()]);
});

test("a group subscribing to a topic for the first time gets the messages still stored", async () => {
	const broker = await startBroker([]);
	for (let n = 0; n < 50; n++) await broker.sendToChannel("fresh.x", { n });
	const newcomer = recorder<{ n: number }>("newcomer", "fresh.x");
	broker.createService(newcomer.schema);
	await waitFor(() => newcomer.handled.length === 50);
});

test("messages every group acknowledged are pruned, also from the file", async () => {
	const dataDir = tempDataDir();
	const a = recorder<{ n: number }>("a", "prune.x");
	const b = recorder<{ n: number }>("b", "prune.x");
	const broker = await startBroker([a.schema, b.schema], { DATA_DIR: dataDir });
	for (let n = 0; n < 300; n++) await broker.sendToChannel("prune.x", { n });
	await waitFor(() => a.handled.length === 300 && b.handled.length === 300);
	expect(broker.channelAdapter.storedMessageCount()).toBe(300);
	expect(broker.channelAdapter.prune()).toBe(300);
	expect(broker.channelAdapter.storedMessageCount()).toBe(0);

	// After a restart nothing is delivered again and new messages still flow.
	await brokers.pop()!.stop();
	a.handled.length = 0;
	const again = await startBroker([a.schema, b.schema], { DATA_DIR: dataDir });
	await sleep(200);
	expect(a.handled.length).toBe(0);
	await again.sendToChannel("prune.x", { n: 300 });
	await waitFor(() => a.handled.length === 1);
	expect(a.handled[0]).toEqual({ n: 300 });
});

test("the mixin's metric helpers count only when the adapter does not count for itself", async () => {
	const sqlite = await startBroker([]);
	await sqlite.sendToChannel("count.x", { n: 1 });
	recordPublished(sqlite, "count.x");
	recordHandled(sqlite, "count.x", "g");
	expect(metric(sqlite, EVENT_METRICS.published, { topic: "count.x" })).toBe(1);
	expect(metric(sqlite, EVENT_METRICS.handled, { topic: "count.x", group: "g" })).toBe(0);

	const saved = process.env.CHANNELS_ADAPTER;
	process.env.CHANNELS_ADAPTER = "Fake";
	try {
		const broker = new ServiceBroker({ ...brokerOptions(), nodeID: "fake", metrics: { enabled: true, reporter: [] } });
		recordPublished(broker, "count.x");
		recordHandled(broker, "count.x", "g");
		expect(metric(broker, EVENT_METRICS.published, { topic: "count.x" })).toBe(1);
		expect(metric(broker, EVENT_METRICS.handled, { topic: "count.x", group: "g" })).toBe(1);
	} finally {
		if (saved === undefined) delete process.env.CHANNELS_ADAPTER;
		else process.env.CHANNELS_ADAPTER = saved;
	}
});
