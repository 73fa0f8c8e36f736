import { ServiceBroker, ServiceSchema } from "moleculer";
import { TimersMixin } from "../../mixins/timers.mixin";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function jobsService(record: { runs: number; concurrent: number; maxConcurrent: number; failures: number }) {
	return {
		name: "jobs",
		mixins: [TimersMixin],
		timers: {
			slow: {
				everyMs: 10,
				jitter: 0,
				runAtStart: true,
				async run() {
					record.runs++;
					record.concurrent++;
					record.maxConcurrent = Math.max(record.maxConcurrent, record.concurrent);
					await sleep(35);
					record.concurrent--;
				},
			},
			failing: {
				everyMs: 10,
				run() {
					record.failures++;
					throw new Error("boom");
				},
			},
			off: { everyMs: () => 0, run: () => record.runs + 1000 },
		},
	} as unknown as ServiceSchema;
}

test("timers run periodically, never overlap, survive errors and stop with the service", async () => {
	const record = { runs: 0, concurrent: 0, maxConcurrent: 0, failures: 0 };
	const broker = new ServiceBroker({ logger: false });
	broker.createService(jobsService(record));
	await broker.start();
	await sleep(200);
	expect(record.runs).toBeGreaterThanOrEqual(3);
	expect(record.runs).toBeLessThan(1000);
	expect(record.maxConcurrent).toBe(1);
	expect(record.failures).toBeGreaterThanOrEqual(3);
	await broker.stop();
	const after = { runs: record.runs, failures: record.failures };
	await sleep(100);
	expect({ runs: record.runs, failures: record.failures }).toEqual(after);
});

test("a start-up run waits for its startDelay (ms or a promise), and never runs once the service stopped", async () => {
	const runs: string[] = [];
	let release!: () => void;
	const gate = new Promise<void>((resolve) => (release = resolve));
	const broker = new ServiceBroker({ logger: false });
	broker.createService({
		name: "delayed",
		mixins: [TimersMixin],
		timers: {
			afterMs: { everyMs: 0, runAtStart: true, startDelay: 60, run: () => void runs.push("afterMs") },
			afterGate: { everyMs: 0, runAtStart: true, startDelay: () => gate, run: () => void runs.push("afterGate") },
			never: { everyMs: 0, runAtStart: true, startDelay: 5_000, run: () => void runs.push("never") },
		},
	} as unknown as ServiceSchema);
	await broker.start();
	await sleep(20);
	expect(runs).toEqual([]);
	await sleep(80);
	expect(runs).toEqual(["afterMs"]);
	release();
	await sleep(20);
	expect(runs).toEqual(["afterMs", "afterGate"]);
	await broker.stop();
	expect(runs).not.toContain("never");
});

test("stopping waits for a run still going, and refuses runs after it", async () => {
	const record = { started: 0, finished: 0 };
	const broker = new ServiceBroker({ logger: false });
	const service = broker.createService({
		name: "slowjob",
		mixins: [TimersMixin],
		timers: {
			pass: {
				everyMs: 0,
				runAtStart: true,
				async run() {
					record.started++;
					await sleep(150);
					record.finished++;
				},
			},
		},
	} as unknown as ServiceSchema) as unknown as { runTimer(name: string): Promise<void> };
	await broker.start();
	await sleep(20);
	expect(record).toEqual({ started: 1, finished: 0 });
	await broker.stop();
	expect(record).toEqual({ started: 1, finished: 1 });
	await service.runTimer("pass");
	expect(record.started).toBe(1);
});

test("timers start after the service's own started() (wherever the mixin is listed) and stop before its stopped()", async () => {
	const seen: string[] = [];
	const broker = new ServiceBroker({ logger: false });
	broker.createService({
		name: "ordered",
		mixins: [TimersMixin, { name: "other", started() {}, stopped() {} }],
		timers: {
			first: {
				everyMs: 0,
				runAtStart: true,
				async run(this: { ready?: boolean; closed?: boolean }) {
					seen.push(`run: ready=${!!this.ready}`);
					await sleep(30);
					seen.push(`done: closed=${!!this.closed}`);
				},
			},
		},
		async started(this: { ready?: boolean }) {
			await sleep(20);
			this.ready = true;
		},
		stopped(this: { closed?: boolean }) {
			this.closed = true;
		},
	} as unknown as ServiceSchema);
	await broker.start();
	await sleep(5);
	await broker.stop();
	expect(seen).toEqual(["run: ready=true", "done: closed=false"]);
});
