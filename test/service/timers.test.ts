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
