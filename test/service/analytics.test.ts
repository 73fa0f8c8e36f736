/**
 * The analytics service on a broker of its own: facts from envelopes sent to its topics, read by
 * range; idempotency when the handler sees an event twice; reports announced with their insert;
 * access and range failures.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { EventEnvelope, topicOf } from "../../lib/domain/events";
import type { EventMap, EventName } from "../../lib/contracts/events";
import type { StoredFact } from "../../lib/contracts/analytics";
import type { Collection } from "../../lib/infra/store/types";

const admin = { meta: { user: { id: "admin-1", role: "admin" } } };
const supplier = (id: string) => ({ meta: { user: { id, role: "supplier" } } });
let seq = 0;
function envelope<K extends EventName>(type: K, data: Partial<EventMap[K]>, time = new Date().toISOString()) {
	return { id: `an-${++seq}-${Date.now()}`, type, time, actor: "test", requestId: null, data } as EventEnvelope;
}

interface AnalyticsInternals {
	recordFact(e: EventEnvelope, ctx: null): Promise<boolean>;
	kind(name: string): Collection<StoredFact>;
	schema: { businessEvents: object };
}

describe("analytics service", () => {
	let broker: ServiceBroker;
	let service: AnalyticsInternals;
	const recorder = eventRecorder();
	const sent: EventEnvelope[] = [];
	const send = async (e: EventEnvelope) => {
		sent.push(e);
		await (broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(e.type)),
			e,
		);
	};

	beforeAll(async () => {
		broker = await startBroker({ services: ["analytics"], extraServices: [recorder.schema] });
		service = broker.getLocalService("analytics") as unknown as AnalyticsInternals;
		await send(envelope("order.created", { orderId: "o1", supplierId: "s1", totalCents: 1000 }));
		await send(
			envelope("payment.processed", { orderId: "o1", supplierId: "s1", amountCents: 1000, status: "captured" }),
		);
		await send(envelope("order.created", { orderId: "old", supplierId: "s1" }, "2020-01-01T10:00:00.000Z"));
		const refund = envelope("refund.processed", { orderId: "o1", amountCents: 300 });
		await send(refund);
		await waitFor(() => broker.call("analytics.factOf", { eventId: refund.id }));
	});
	afterAll(() => broker.stop());

	test("subscribes only to the events that become facts", () => {
		const types = Object.keys(service.schema.businessEvents);
		expect(types).not.toContain("*");
		expect(types).toEqual(expect.arrayContaining(["order.created", "refund.processed", "user.created"]));
		expect(types).not.toContain("notification.sent");
	});

	test("a refund finds its supplier from the order's earlier facts", async () => {
		const refund = sent.find((e) => e.type === "refund.processed")!;
		expect(await broker.call("analytics.factOf", { eventId: refund.id })).toMatchObject({
			supplierId: "s1",
			refundsCents: 300,
		});
	});

	test("figures read only their range", async () => {
		const now = (await broker.call("analytics.metrics", { granularity: "day" }, admin)) as {
			totals: { ordersCreated: number; netRevenueCents: number };
		};
		expect(now.totals).toMatchObject({ ordersCreated: 1, netRevenueCents: 700 });
		const then = (await broker.call(
			"analytics.metrics",
			{ granularity: "hour", from: "2020-01-01T00:00:00.000Z", to: "2020-01-02T00:00:00.000Z" },
			admin,
		)) as { totals: { ordersCreated: number } };
		expect(then.totals.ordersCreated).toBe(1);
	});

	test("the handler seeing every event twice (ledger bypassed) stores and counts nothing new", async () => {
		const facts = service.kind("facts");
		const before = await facts.count({});
		const counted = [];
		for (const e of sent) counted.push(await service.recordFact(e, null));
		expect(counted.every((c) => c === false)).toBe(true);
		expect(await facts.count({})).toBe(before);
	});

	test("a report is announced by report.generated, recorded with its insert", async () => {
		const report = (await broker.call("analytics.createReport", { kind: "sales_by_supplier" }, admin)) as {
			id: string;
			rows: unknown[];
		};
		expect(report.rows).toEqual([expect.objectContaining({ supplierId: "s1", netRevenueCents: 700 })]);
		const announced = await waitFor(() =>
			recorder.ofType("report.generated").find((e) => e.data.reportId === report.id),
		);
		expect(announced.data).toMatchObject({ kind: "sales_by_supplier", requestedBy: "admin-1" });
	});

	test("failure paths: another supplier's figures and reports, unknown report, bad ranges", async () => {
		await expect(broker.call("analytics.metrics", { supplierId: "s1" }, supplier("s2"))).rejects.toMatchObject({
			code: 403,
		});
		const own = (await broker.call("analytics.createReport", { kind: "cancellations" }, supplier("s1"))) as {
			id: string;
		};
		await expect(broker.call("analytics.getReport", { id: own.id }, supplier("s2"))).rejects.toMatchObject({
			code: 403,
		});
		await expect(broker.call("analytics.getReport", { id: "nope" }, admin)).rejects.toMatchObject({ code: 404 });
		await expect(
			broker.call("analytics.metrics", { from: "2024-02-01T00:00:00Z", to: "2024-01-01T00:00:00Z" }, admin),
		).rejects.toMatchObject({ code: 422 });
		await expect(
			broker.call("analytics.createReport", { kind: "cancellations", from: "2020-01-01T00:00:00Z" }, admin),
		).rejects.toMatchObject({ code: 422 });
	});
});
