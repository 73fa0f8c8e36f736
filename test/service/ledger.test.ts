/**
 * Analytics' ledger on a broker of its own: order.delivered and refund.processed envelopes sent to
 * their topics become entries once (even delivered twice); commission rates per supplier; statements
 * that balance, in JSON and CSV, with who-may-see-what; payout runs that pay each entry once and say
 * who, when and what; daily statements stored with the reports, once.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { EventEnvelope, topicOf } from "../../lib/domain/events";
import type { EventMap, EventName } from "../../lib/contracts/events";
import { parseCsv } from "../../lib/domain/csv";

const admin = { meta: { user: { id: "admin-1", role: "admin", mfa: true } } };
const as = (id: string, role: string) => ({ meta: { user: { id, role } } });
let seq = 0;
const DAY = "2026-01-15";
const at = (hh: string) => `${DAY}T${hh}:00:00.000Z`;
function envelope<K extends EventName>(type: K, data: Partial<EventMap[K]>, time = at("13")) {
	return { id: `lg-${++seq}-${Date.now()}`, type, time, actor: "test", requestId: null, data } as EventEnvelope;
}

interface Entry {
	id: string;
	kind: string;
	grossCents: number;
	commissionCents: number;
	courierFeeCents: number;
	supplierNetCents: number;
	commissionBps: number;
	supplierPayoutId?: string;
}
interface StatementOut {
	rows: Record<string, unknown>[];
	totals: {
		grossCents: number;
		commissionCents: number;
		courierFeeCents: number;
		supplierNetCents: number;
		amountDueCents: number;
		unpaidCents: number;
		entries: number;
	};
	balanced: boolean;
}

describe("ledger (analytics)", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	const send = (e: EventEnvelope) =>
		(broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(e.type)),
			e,
		);
	const entries = (orderId: string) =>
		broker.call<Entry[], { orderId: string }>("analytics.entriesOf", { orderId }, admin);
	const delivered = (orderId: string, extra: Partial<EventMap["order.delivered"]> = {}) =>
		envelope("order.delivered", {
			orderId,
			customerId: "cu1",
			supplierId: "s1",
			courierId: "c1",
			totalCents: 13_099,
			deliveredAt: at("10"),
			distanceKm: 2.675,
			...extra,
		});

	beforeAll(async () => {
		broker = await startBroker({
			services: ["analytics"],
			extraServices: [recorder.schema],
			env: {
				COMMISSION_BPS: "1000",
				COURIER_FEE_BASE_CENTS: "500",
				COURIER_FEE_PER_KM_CENTS: "150",
				DAILY_STATEMENTS_CHECK_MS: "0",
			},
		});
	});
	afterAll(() => broker.stop());

	test("a delivered order makes one sale entry, even when its event comes twice (same or new envelope)", async () => {
		const e = delivered("o1");
		await send(e);
		await send(e);
		await send(delivered("o1")); // the same delivery republished under another envelope id
		await waitFor(async () => (await entries("o1")).length === 1);
		await new Promise((r) => setTimeout(r, 200));
		const rows = await entries("o1");
		expect(rows).toHaveLength(1);
		// 10 % of 130.99 = 13.099 → 13.10; fee 5.00 + 1.50 × 2.675 km = 9.0125 → 9.01
		expect(rows[0]).toMatchObject({
			id: "sale:o1",
			kind: "sale",
			grossCents: 13_099,
			commissionCents: 1310,
			courierFeeCents: 901,
			supplierNetCents: 13_099 - 1310 - 901,
			commissionBps: 1000,
		});
	});

	test("an admin sets a supplier's commission; later deliveries use it; others may not", async () => {
		await expect(
			broker.call("analytics.setCommission", { supplierId: "s2", commissionBps: 20_000 }, admin),
		).rejects.toMatchObject({ code: 422 });
		expect(
			await broker.call("analytics.setCommission", { supplierId: "s2", commissionBps: 1500 }, admin),
		).toMatchObject({ commissionBps: 1500, isDefault: false });
		expect(await broker.call("analytics.getCommission", { supplierId: "s2" }, as("s2", "supplier"))).toMatchObject({
			commissionBps: 1500,
		});
		await expect(
			broker.call("analytics.getCommission", { supplierId: "s2" }, as("s1", "supplier")),
		).rejects.toMatchObject({ code: 403 });
		await waitFor(() => recorder.ofType("commission.changed").length === 1);
		expect(recorder.ofType("commission.changed")[0].data).toMatchObject({
			supplierId: "s2",
			commissionBps: 1500,
			previousBps: null,
			changedBy: "admin-1",
		});

		await send(delivered("o2", { supplierId: "s2", totalCents: 10_001, courierId: null, deliveredAt: at("11") }));
		const [sale] = (await waitFor(async () => {
			const r = await entries("o2");
			return r.length ? r : undefined;
		})) as Entry[];
		expect(sale).toMatchObject({
			commissionBps: 1500,
			commissionCents: 1500,
			courierFeeCents: 0,
			supplierNetCents: 8501,
		});

		expect(
			await broker.call("analytics.setCommission", { supplierId: "s2", commissionBps: null }, admin),
		).toMatchObject({ commissionBps: 1000, isDefault: true });
	});

	test("refunds reverse the shares; partial refunds add up to the whole sale, once each", async () => {
		await send(delivered("o3", { totalCents: 9_999, deliveredAt: at("12") }));
		await waitFor(async () => (await entries("o3")).length === 1);
		const first = envelope("refund.processed", { orderId: "o3", refundId: "r1", paymentId: "p3", amountCents: 3_333 });
		await send(first);
		await send(first);
		await send(envelope("refund.processed", { orderId: "o3", refundId: "r2", paymentId: "p3", amountCents: 6_666 }));
		const rows = (await waitFor(async () => {
			const r = await entries("o3");
			return r.length === 3 ? r : undefined;
		})) as Entry[];
		const sum = (k: keyof Entry) => rows.reduce((n, r) => n + (r[k] as number), 0);
		expect([sum("grossCents"), sum("commissionCents"), sum("courierFeeCents"), sum("supplierNetCents")]).toEqual([
			0, 0, 0, 0,
		]);
		for (const r of rows) expect(r.grossCents).toBe(r.commissionCents + r.courierFeeCents + r.supplierNetCents);
		// a refund of an order never delivered books nothing
		await send(envelope("refund.processed", { orderId: "never", refundId: "r9", paymentId: "p9", amountCents: 100 }));
		await new Promise((r) => setTimeout(r, 200));
		expect(await entries("never")).toEqual([]);
	});

	test("statements: a supplier's day balances to the cent, in JSON and CSV; access is by party", async () => {
		const s = await broker.call<StatementOut, object>(
			"analytics.statement",
			{ party: "supplier", day: DAY },
			as("s1", "supplier"),
		);
		expect(s.balanced).toBe(true);
		expect(s.totals.entries).toBe(4); // o1, o3 and its two reversals
		expect(s.totals.grossCents).toBe(13_099);
		expect(s.totals.grossCents).toBe(s.totals.commissionCents + s.totals.courierFeeCents + s.totals.supplierNetCents);
		const csv = await broker.call<string, object>(
			"analytics.statement",
			{ party: "supplier", day: DAY, format: "csv" },
			as("s1", "supplier"),
		);
		const table = parseCsv(csv);
		expect(table[0]).toContain("supplier_net_cents");
		const col = table[0].indexOf("amount_due_cents");
		expect(table.slice(1).reduce((n, r) => n + Number(r[col]), 0)).toBe(s.totals.amountDueCents);

		const courier = await broker.call<StatementOut, object>(
			"analytics.statement",
			{ party: "courier", day: DAY },
			as("c1", "courier"),
		);
		expect(courier.totals.amountDueCents).toBe(901); // o1's fee; o3's fee was reversed in full
		await expect(
			broker.call("analytics.statement", { party: "supplier", partyId: "s2", day: DAY }, as("s1", "supplier")),
		).rejects.toMatchObject({ code: 403 });
		await expect(
			broker.call("analytics.statement", { party: "courier", day: DAY }, as("s1", "supplier")),
		).rejects.toMatchObject({ code: 403 });
		await expect(broker.call("analytics.statement", { party: "supplier", day: DAY }, admin)).rejects.toMatchObject({
			code: 422,
		});
		await expect(
			broker.call("analytics.statement", { party: "supplier", day: "2026-02-31" }, as("s1", "supplier")),
		).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("analytics.statement", { party: "boss", day: DAY }, admin)).rejects.toMatchObject({
			code: 422,
		});

		const stored = await broker.call<{ id: string; kind: string; totals: object }, object>(
			"analytics.createStatement",
			{ party: "supplier", day: DAY },
			as("s1", "supplier"),
		);
		expect(stored).toMatchObject({ kind: "supplier_statement", totals: { grossCents: 13_099 } });
		const download = await broker.call<string, object>(
			"analytics.downloadReport",
			{ id: stored.id, format: "csv" },
			as("s1", "supplier"),
		);
		expect(download).toBe(csv);
	});

	test("a payout run pays each unpaid entry once; the same run id again pays nothing; it is audited", async () => {
		const until = `${DAY}T23:59:59.000Z`;
		const run = await broker.call<
			{
				id: string;
				entries: number;
				totalCents: number;
				lines: { partyId: string; amountCents: number }[];
				requestedBy: string;
				alreadyRun: boolean;
			},
			object
		>("analytics.runPayout", { party: "supplier", runId: "run-2026-01-15", until }, admin);
		const s1 = await broker.call<StatementOut, object>(
			"analytics.statement",
			{ party: "supplier", day: DAY },
			as("s1", "supplier"),
		);
		const s2 = await broker.call<StatementOut, object>(
			"analytics.statement",
			{ party: "supplier", day: DAY },
			as("s2", "supplier"),
		);
		expect(run).toMatchObject({
			id: "run-2026-01-15",
			status: "completed",
			requestedBy: "admin-1",
			alreadyRun: false,
			entries: 5,
		});
		expect(run.totalCents).toBe(s1.totals.amountDueCents + s2.totals.amountDueCents);
		expect(run.lines).toEqual([
			{ partyId: "s1", entries: 4, amountCents: s1.totals.amountDueCents },
			{ partyId: "s2", entries: 1, amountCents: s2.totals.amountDueCents },
		]);
		expect(s1.totals.unpaidCents).toBe(0);

		const again = await broker.call<{ alreadyRun: boolean; totalCents: number }, object>(
			"analytics.runPayout",
			{ party: "supplier", runId: "run-2026-01-15" },
			admin,
		);
		expect(again).toMatchObject({ alreadyRun: true, totalCents: run.totalCents });
		const other = await broker.call<{ entries: number; totalCents: number }, object>(
			"analytics.runPayout",
			{ party: "supplier", runId: "run-b", until },
			admin,
		);
		expect(other).toMatchObject({ entries: 0, totalCents: 0 });
		await expect(broker.call("analytics.runPayout", { party: "courier", runId: "run-b" }, admin)).rejects.toMatchObject(
			{ code: 422 },
		);

		const couriers = await broker.call<{ lines: unknown[] }, object>(
			"analytics.runPayout",
			{ party: "courier", runId: "run-c", until },
			admin,
		);
		expect(couriers.lines).toEqual([{ partyId: "c1", entries: 4, amountCents: 901 }]);
		const paid = await entries("o1");
		expect(paid[0]).toMatchObject({ supplierPayoutId: "run-2026-01-15", courierPayoutId: "run-c" });
		await waitFor(() => recorder.ofType("payout.completed").length === 3);
		expect(
			recorder
				.ofType("payout.completed")
				.map((e) => e.data.runId)
				.sort(),
		).toEqual(["run-2026-01-15", "run-b", "run-c"]);
		expect(await broker.call("analytics.getPayout", { id: "run-c" }, admin)).toMatchObject({
			requestedBy: "admin-1",
			entryIds: ["sale:o1", "sale:o3", "refund:r1", "refund:r2"],
		});
	});

	test("the daily job stores each party's statement of yesterday once; the party can read it", async () => {
		const service = broker.getLocalService("analytics") as unknown as { dailyStatements(now: Date): Promise<number> };
		const made = await service.dailyStatements(new Date("2026-01-16T03:00:00Z"));
		expect(made).toBe(3); // s1, s2, c1
		expect(await service.dailyStatements(new Date("2026-01-16T04:00:00Z"))).toBe(0);
		const report = await broker.call<{ kind: string; partyId: string; totals: { grossCents: number } }, object>(
			"analytics.getReport",
			{ id: `statement:courier:c1:${DAY}` },
			as("c1", "courier"),
		);
		expect(report).toMatchObject({ kind: "courier_statement", partyId: "c1" });
		await expect(
			broker.call("analytics.getReport", { id: `statement:supplier:s1:${DAY}` }, as("s2", "supplier")),
		).rejects.toMatchObject({ code: 403 });
		const listed = await broker.call<{ rows: { id: string }[] }, object>(
			"analytics.listReports",
			{ kind: "supplier_statement" },
			as("s2", "supplier"),
		);
		expect(listed.rows.map((r) => r.id)).toEqual([`statement:supplier:s2:${DAY}`]);
	});

	test("a refund made before the delivery is reversed when the sale is booked, once", async () => {
		// refund.processed (payments' topic) may come before order.delivered (orders' topic)
		await send(envelope("refund.processed", { orderId: "o7", refundId: "r7", paymentId: "p7", amountCents: 2_500 }));
		await new Promise((r) => setTimeout(r, 200));
		expect(await entries("o7")).toEqual([]);
		const delivery = delivered("o7", { supplierId: "s7", courierId: null, totalCents: 10_000 });
		await send(delivery);
		const rows = (await waitFor(async () => {
			const r = await entries("o7");
			return r.length === 2 ? r : undefined;
		})) as Entry[];
		await send(delivery);
		await send(envelope("refund.processed", { orderId: "o7", refundId: "r7", paymentId: "p7", amountCents: 2_500 }));
		await new Promise((r) => setTimeout(r, 200));
		expect(await entries("o7")).toHaveLength(2);
		const sum = (k: keyof Entry) => rows.reduce((n, r) => n + (r[k] as number), 0);
		// 10 % commission on what was kept (75.00), no courier: the supplier nets the rest
		expect([sum("grossCents"), sum("commissionCents"), sum("courierFeeCents"), sum("supplierNetCents")]).toEqual([
			7_500, 750, 0, 6_750,
		]);
		expect(rows.map((r) => r.id).sort()).toEqual(["refund:r7", "sale:o7"]);
	});
});
