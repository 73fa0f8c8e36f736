/**
 * The alerts service on a broker of its own: rules fed by envelopes sent straight to its topics,
 * bounded failure windows, reconciliation mismatches, idempotency when the rules see an event twice,
 * dead letters without an envelope, and the timer's lifecycle.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { EventEnvelope, topicOf } from "../../lib/domain/events";
import type { Alert, WindowReport } from "../../lib/contracts/alerts";
import type { EventMap, EventName } from "../../lib/contracts/events";

const admin = { meta: { user: { id: "admin-1", role: "admin" } } };
let seq = 0;
function envelope<K extends EventName>(type: K, data: Partial<EventMap[K]>, time = new Date().toISOString()) {
	return { id: `ev-${++seq}-${Date.now()}`, type, time, actor: "test", requestId: null, data } as EventEnvelope;
}

describe("alerts service", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	const send = (e: EventEnvelope) =>
		(broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(e.type)),
			e,
		);
	const list = async (query: Record<string, unknown> = {}) =>
		((await broker.call("alerts.list", { pageSize: 100, ...query }, admin)) as { rows: (Alert & { id: string })[] })
			.rows;
	const openAlert = async (key: string) =>
		(await waitFor(async () => (await list({ status: "open" })).find((a) => a.key === key), 5000))!;
	const window = (series: string, now?: string) =>
		broker.call("alerts.window", { series, ...(now ? { now } : {}) }) as Promise<WindowReport>;

	beforeAll(async () => {
		broker = await startBroker({ services: ["alerts"], extraServices: [recorder.schema] });
	});
	afterAll(() => broker.stop());

	test("the payment-failure window's work is bounded: old samples are pruned, evaluation reads only the window", async () => {
		const now = Date.now();
		// 200 samples spread over the last 20 hours (one every 6 minutes), all older than the 15-minute window
		for (let i = 0; i < 200; i++) {
			const at = new Date(now - (20 * 60 - i * 6) * 60_000 - 60 * 60_000).toISOString();
			await send(envelope("payment.processed", { paymentId: `old${i}`, status: "captured" }, at));
		}
		// Reported as of 2000 the window prunes nothing: the old samples were counted (each evaluation
		// prunes what is older than its own window, so fewer than 200 buckets remain).
		await waitFor(async () => (await window("payment", "2000-01-01T00:00:00.000Z")).bucketsStored > 0);
		await new Promise((r) => setTimeout(r, 300));
		const fresh = envelope("payment.processed", { paymentId: "fresh", status: "captured" });
		await send(fresh);
		const report = (await waitFor(async () => {
			const r = await window("payment");
			return r.total === 1 && r;
		})) as WindowReport;
		expect(report.windowMinutes).toBe(15);
		expect(report.bucketsRead).toBeLessThanOrEqual(16);
		expect(report.bucketsStored).toBeLessThanOrEqual(16);
		expect(report).toMatchObject({ total: 1, failed: 0, rate: 0 });
	});

	test("a failure rate at the threshold raises one alert; a good window resolves it", async () => {
		for (const failed of [true, true, true, false])
			await send(envelope(failed ? "payment.failed" : "payment.processed", { status: "captured" }));
		const alert = await openAlert("payment_failure_rate");
		expect(alert).toMatchObject({ severity: "critical", level: 1 });
		// evaluated as the samples arrive (concurrently): at the 3rd failure or after the last sample
		expect(alert.summary).toMatch(/3 of [45] payments failed in the last 15 min/);
		for (let i = 0; i < 4; i++) await send(envelope("payment.processed", { status: "captured" }));
		await waitFor(async () => (await list({ status: "resolved" })).some((a) => a.key === "payment_failure_rate"));
		expect(recorder.ofType("alert.triggered").filter((e) => e.data.key === "payment_failure_rate")).toHaveLength(1);
		const resolved = await waitFor(() =>
			recorder.ofType("alert.resolved").find((e) => e.data.key === "payment_failure_rate"),
		);
		expect(resolved.data.note).toMatch(/failure rate back to \d+%/);
	});

	test("reconciliation mismatches above the threshold raise a critical alert", async () => {
		const mismatch = (n: number) =>
			envelope("reconciliation.mismatch", { orderId: `o${n}`, paymentId: `p${n}`, problem: "captured but cancelled" });
		await send(mismatch(1));
		await send(mismatch(2));
		await new Promise((r) => setTimeout(r, 200));
		expect((await list()).find((a) => a.key === "reconciliation_mismatch")).toBeUndefined();
		await send(mismatch(3));
		const alert = await openAlert("reconciliation_mismatch");
		expect(alert.severity).toBe("critical");
		expect(alert.summary).toContain("3 payment reconciliation mismatches");
		expect(alert.details).toMatchObject({ failed: 3, lastMismatch: { problem: "captured but cancelled" } });
		const rules = (await broker.call("alerts.rules", {}, admin)) as Record<string, { threshold: number }>;
		expect(rules.reconciliation_mismatch.threshold).toBe(3);
		await expect(
			broker.call("alerts.updateRule", { rule: "reconciliation_mismatch", minSample: 2 }, admin),
		).rejects.toMatchObject({ code: 422 });
	});

	test("the rules seeing an event twice (ledger bypassed) change nothing", async () => {
		const service = broker.getLocalService("alerts") as unknown as {
			evaluateEvent(e: EventEnvelope, ctx: null): Promise<void>;
		};
		const low = envelope("inventory.updated", { productId: "p1", stock: 1, lowStock: true, lowStockThreshold: 3 });
		await send(low);
		await openAlert("low_stock:p1");
		const snapshot = async () => (await list()).map((a) => `${a.key}|${a.status}|${a.occurrences}|${a.level}`).sort();
		const before = await snapshot();
		const windowBefore = await window("payment");
		const seen = [...new Map(recorder.seen.map((e) => [e.id, e])).values()];
		for (const e of [low, ...seen]) await service.evaluateEvent(e, null);
		// samples are claimed by event id: replaying them counts nothing
		for (const e of recorder.seen.filter((x) => x.type.startsWith("payment."))) await service.evaluateEvent(e, null);
		expect(await snapshot()).toEqual(before);
		expect(await window("payment")).toEqual(windowBefore);
	});

	test("events the rules do not use are not even subscribed; dead letters without an envelope are ignored", async () => {
		const service = broker.getLocalService("alerts") as unknown as { schema: { businessEvents: object } };
		const types = Object.keys(service.schema.businessEvents);
		expect(types).not.toContain("*");
		expect(types).not.toContain("order.created");
		expect(types).toContain("reconciliation.mismatch");
		const before = (await list()).length;
		await (broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName("dead-letter.events"),
			{ consumer: "x", error: "boom" },
		);
		await new Promise((r) => setTimeout(r, 200));
		expect((await list()).length).toBe(before);
	});

	test("failure paths: unknown alert, unknown rule, resolving twice, replaying a non-dead-letter", async () => {
		await expect(broker.call("alerts.get", { id: "nope" }, admin)).rejects.toMatchObject({ code: 404 });
		await expect(broker.call("alerts.updateRule", { rule: "nope", enabled: false }, admin)).rejects.toMatchObject({
			code: 404,
		});
		const open = await openAlert("low_stock:p1");
		await broker.call("alerts.resolve", { id: open.id, note: "restocked by hand" }, admin);
		await expect(broker.call("alerts.resolve", { id: open.id, note: "again" }, admin)).rejects.toMatchObject({
			code: 409,
		});
		await expect(broker.call("alerts.replay", { id: open.id }, admin)).rejects.toMatchObject({ code: 409 });
	});

	test("the timer is cleared when the service stops", async () => {
		const own = await startBroker({ services: ["alerts"], env: { ALERT_ESCALATION_CHECK_MS: "20" } });
		// TimersMixin's state of the "timers" job.
		const service = own.getLocalService("alerts") as unknown as {
			runningTimers: Map<string, { stopped: boolean; handle?: NodeJS.Timeout }>;
		};
		expect(service.runningTimers.get("timers")).toMatchObject({ stopped: false, handle: expect.anything() });
		await own.stop();
		expect(service.runningTimers.get("timers")).toMatchObject({ stopped: true });
	});
});
