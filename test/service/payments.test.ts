/**
 * The payments service on a broker, with a fake orders service (statusesFor, changedSince,
 * takePaymentToken) and events published by a probe: charges and their idempotency keys, a crash
 * between "processing" written and the provider's answer, each reconciliation repair, refunds
 * (idempotent, racing, refused) and failure paths.
 */
import { ServiceBroker } from "moleculer";
import fs from "fs";
import os from "os";
import path from "path";
import type { OrderCreated } from "../../lib/contracts/events";
import type { OrderStatusRow, Payment, PaymentView, ReconcileReport } from "../../lib/contracts/payments";
import type { Ctx } from "../../lib/contracts/common";
import { SimulatedProvider, TEST_CARDS } from "../../lib/infra/payment-provider";
import type { PaymentsThis } from "../../services/parts/payments/types";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { eventPublisher } from "../helpers/events";

const LONG_AGO = "2020-01-01T00:00:00.000Z";

/** The orders service as payments sees it. */
function fakeOrders() {
	const orders = new Map<string, OrderStatusRow>();
	const tokens = new Map<string, string>();
	const schema = {
		name: "orders",
		actions: {
			statusesFor(ctx: Ctx<{ orderIds: string[] }>) {
				return ctx.params.orderIds.flatMap((id) => (orders.has(id) ? [orders.get(id)!] : []));
			},
			changedSince() {
				return [...orders.keys()];
			},
			takePaymentToken(ctx: Ctx<{ orderId: string }>) {
				const paymentToken = tokens.get(ctx.params.orderId) ?? null;
				tokens.delete(ctx.params.orderId);
				return { paymentToken };
			},
		},
	};
	return { schema, orders, tokens };
}

let broker: ServiceBroker;
let payments: PaymentsThis;
let provider: SimulatedProvider;
const fake = fakeOrders();
const events = eventRecorder();
let counter = 0;

async function start(env: Record<string, string> = {}) {
	const b = await startBroker({
		services: ["payments"],
		extraServices: [fake.schema, events.schema, eventPublisher("probe")],
		env: { PAYMENT_PROVIDER_TIMEOUT_MS: "100", PIX_AUTO_CONFIRM_MS: "0", RECONCILE_INTERVAL_MS: "0", ...env },
	});
	return { b, svc: b.getLocalService("payments") as unknown as PaymentsThis };
}

beforeAll(async () => {
	({ b: broker, svc: payments } = await start());
	provider = payments.provider as SimulatedProvider;
});
afterAll(() => broker.stop());

/** An order known to the fake orders service (status `created` unless told). */
function newOrder(method: "card" | "pix" | "cash" = "card", token: string | null = TEST_CARDS.success, extra = {}) {
	const orderId = `ord-${++counter}-${Date.now().toString(36)}`;
	const row: OrderStatusRow = {
		orderId,
		status: "created",
		customerId: `cust-${counter}`,
		supplierId: "sup-1",
		totalCents: 10_000,
		paymentMethod: method,
		wasPaid: false,
		createdAt: LONG_AGO,
		updatedAt: LONG_AGO,
		...extra,
	};
	fake.orders.set(orderId, row);
	if (token) fake.tokens.set(orderId, token);
	return row;
}

function publish(type: string, data: object) {
	return broker.call("probe.publish", { type, data });
}

function orderCreated(o: OrderStatusRow): OrderCreated {
	return {
		orderId: o.orderId,
		customerId: o.customerId,
		supplierId: o.supplierId,
		totalCents: o.totalCents,
		paymentMethod: o.paymentMethod,
		items: [{ productId: "p1", quantity: 1 }],
		deliveryLocation: { lat: -23.5, lng: -46.6 },
		scheduledSlot: null,
		hasPaymentToken: fake.tokens.has(o.orderId),
	};
}

const ofOrder = (type: string, orderId: string) => events.ofType(type).filter((e) => e.data.orderId === orderId);

/** Places the order with order.created and waits for the payment's outcome event. */
async function charged(o: OrderStatusRow): Promise<Payment> {
	await publish("order.created", orderCreated(o));
	await waitFor(() => ofOrder("payment.processed", o.orderId).length + ofOrder("payment.failed", o.orderId).length);
	return (await payments.findOneEntity({ orderId: o.orderId }))!;
}

/** A payment written `processing` with its key, then the process "crashed" before the answer. */
async function stuckPayment(o: OrderStatusRow, pendingToken?: string): Promise<Payment> {
	const now = new Date().toISOString();
	const p = await payments.ensurePayment(null, o);
	return (await payments.compareAndSet(
		null,
		{ _id: p._id },
		{
			$set: {
				status: "processing",
				chargeKey: `charge:${p._id}`,
				processingSince: LONG_AGO,
				updatedAt: now,
				...(pendingToken ? { pendingToken } : {}),
			},
			$inc: { attempts: 1 },
		},
	))!;
}

const reconcile = (graceMs = 0) => broker.call("payments.reconcile", { graceMs }) as Promise<ReconcileReport>;
const asAdmin = { meta: { user: { id: "admin-1", role: "admin" } } };

describe("charging", () => {
	it("charges a card order once under the key charge:<paymentId>, whatever the redelivery", async () => {
		const o = newOrder();
		const p = await charged(o);
		expect(p).toMatchObject({ status: "captured", capturedCents: 10_000, attempts: 1, chargeKey: `charge:${p._id}` });
		expect(p.pendingToken).toBeUndefined();
		const executed = provider.executed;
		await publish("order.created", orderCreated(o)); // another envelope, same order
		await new Promise((r) => setTimeout(r, 150));
		expect((await payments.findEntity(p._id))!.attempts).toBe(1);
		expect(provider.executed).toBe(executed);
		expect(ofOrder("payment.processed", o.orderId)).toHaveLength(1);
		// The same key asked again at the provider: the first outcome, no second charge.
		const again = await provider.charge({
			idempotencyKey: p.chargeKey!,
			paymentId: p._id,
			orderId: o.orderId,
			amountCents: p.amountCents,
			method: "card",
			token: TEST_CARDS.success,
		});
		expect(again).toMatchObject({ status: "captured", providerRef: p.providerRef });
		expect(provider.executed).toBe(executed);
		await expect(provider.status(p.chargeKey!)).resolves.toMatchObject({ status: "captured" });
	});

	it("fails a declined card and a provider that never answers (reason timeout)", async () => {
		const declined = await charged(newOrder("card", TEST_CARDS.declined));
		expect(declined).toMatchObject({ status: "failed", failureReason: "card_declined" });
		const silent = await charged(newOrder("card", TEST_CARDS.timeout));
		expect(silent).toMatchObject({ status: "failed", failureReason: "timeout" });
		expect(ofOrder("payment.failed", silent.orderId)[0].data.reason).toBe("timeout");
	});

	it("authorizes cash and captures it on delivery; PIX stays pending until confirmed, once", async () => {
		const cash = newOrder("cash", null);
		expect(await charged(cash)).toMatchObject({ status: "authorized" });
		await publish("order.delivered", { orderId: cash.orderId });
		await waitFor(async () => (await payments.findOneEntity({ orderId: cash.orderId }))!.status === "captured");
		const pix = await charged(newOrder("pix", null));
		expect(pix.status).toBe("pending");
		await broker.call("payments.confirmPix", { paymentId: pix._id });
		await expect(broker.call("payments.confirmPix", { paymentId: pix._id })).rejects.toMatchObject({ code: 409 });
		await waitFor(() => ofOrder("payment.processed", pix.orderId).length === 2);
		expect(ofOrder("payment.processed", pix.orderId).map((e) => e.data.status)).toEqual(["pending", "captured"]);
	});

	it("refuses a customer's payment of someone else's order, and a card payment without a token", async () => {
		const o = newOrder("pix", null);
		const call = (user: string, params: object) =>
			broker.call(
				"payments.pay",
				{ orderId: o.orderId, ...params },
				{ meta: { user: { id: user, role: "customer" } } },
			);
		await expect(call("intruder", { method: "pix" })).rejects.toMatchObject({ code: 403 });
		await expect(call(o.customerId, { method: "card" })).rejects.toMatchObject({ code: 422 });
		await expect(
			broker.call("payments.pay", { orderId: "nope" }, { meta: { user: { id: "x", role: "customer" } } }),
		).rejects.toMatchObject({ code: 404 });
	});

	it("does not charge a failed payment again, even before the decline has cancelled the order", async () => {
		// The fake orders service keeps the order `created`: the moment between payment.failed and
		// the cancellation it causes, when the order still waits for payment.
		const o = newOrder("card", TEST_CARDS.declined);
		expect(await charged(o)).toMatchObject({ status: "failed", attempts: 1 });
		const executed = provider.executed;
		const retry = broker.call(
			"payments.pay",
			{ orderId: o.orderId, method: "card", paymentToken: TEST_CARDS.success },
			{ meta: { user: { id: o.customerId, role: "customer" } } },
		);
		await expect(retry).rejects.toMatchObject({ code: 409, data: { status: "failed" } });
		expect(await payments.findOneEntity({ orderId: o.orderId })).toMatchObject({ status: "failed", attempts: 1 });
		expect(provider.executed).toBe(executed);
	});

	it("answers payments.forOrder with the payment in short, or null", async () => {
		const p = await charged(newOrder());
		await expect(broker.call("payments.forOrder", { orderId: p.orderId })).resolves.toEqual({
			paymentId: p._id,
			status: "captured",
			method: "card",
			amountCents: 10_000,
		});
		await expect(broker.call("payments.forOrder", { orderId: "none" })).resolves.toBeNull();
	});
});

describe("a crash between 'processing' written and the provider's answer", () => {
	it("records the outcome the provider knows for the key: captured", async () => {
		const o = newOrder();
		const p = await stuckPayment(o);
		const request = { paymentId: p._id, orderId: o.orderId, amountCents: p.amountCents, method: "card" as const };
		await provider.charge({ ...request, idempotencyKey: p.chargeKey!, token: TEST_CARDS.success });
		const executed = provider.executed;
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "processing_succeeded", orderId: o.orderId, paymentId: p._id });
		expect(await payments.findEntity(p._id)).toMatchObject({ status: "captured", capturedCents: 10_000 });
		await waitFor(() => ofOrder("payment.processed", o.orderId).length === 1);
		expect(provider.executed).toBe(executed);
	});

	it("records a declined answer as failed with payment.failed", async () => {
		const o = newOrder();
		const p = await stuckPayment(o);
		const request = { paymentId: p._id, orderId: o.orderId, amountCents: p.amountCents, method: "card" as const };
		await provider.charge({ ...request, idempotencyKey: p.chargeKey!, token: TEST_CARDS.declined });
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "processing_failed", orderId: o.orderId, paymentId: p._id });
		expect(await payments.findEntity(p._id)).toMatchObject({ status: "failed", failureReason: "card_declined" });
		await waitFor(() => ofOrder("payment.failed", o.orderId).length === 1);
	});

	it("charges again under the same key when the provider never received it (unknown)", async () => {
		const o = newOrder();
		const p = await stuckPayment(o, TEST_CARDS.success);
		await expect(provider.status(p.chargeKey!)).resolves.toEqual({ status: "unknown" });
		const executed = provider.executed;
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "processing_recharged", orderId: o.orderId, paymentId: p._id });
		const after = (await payments.findEntity(p._id))!;
		expect(after).toMatchObject({ status: "captured" });
		expect(after.pendingToken).toBeUndefined();
		expect(provider.executed).toBe(executed + 1);
		// A second pass finds nothing left to do for it, and the provider still charged once.
		const second = await reconcile();
		expect(second.repairs.filter((r) => r.paymentId === p._id && r.kind.startsWith("processing"))).toEqual([]);
		expect(provider.executed).toBe(executed + 1);
	});

	it("leaves a charge younger than the grace period alone", async () => {
		const o = newOrder();
		const p = await stuckPayment(o, TEST_CARDS.success);
		await payments.compareAndSet(null, { _id: p._id }, { $set: { processingSince: new Date().toISOString() } });
		const report = await reconcile(60_000);
		expect(report.repairs.filter((r) => r.paymentId === p._id)).toEqual([]);
		expect((await payments.findEntity(p._id))!.status).toBe("processing");
		await payments.compareAndSet(null, { _id: p._id }, { $set: { processingSince: LONG_AGO } });
		await reconcile();
	});
});

describe("reconciliation repairs", () => {
	it("refunds a captured payment whose order is cancelled", async () => {
		const o = newOrder();
		const p = await charged(o);
		fake.orders.set(o.orderId, { ...o, status: "cancelled" }); // order.cancelled never reached payments
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "cancelled_refunded", orderId: o.orderId, paymentId: p._id });
		expect(await payments.findEntity(p._id)).toMatchObject({ status: "refunded", refundedCents: 10_000 });
		await waitFor(() => ofOrder("refund.processed", o.orderId).length === 1);
		expect((await reconcile()).repairs.filter((r) => r.paymentId === p._id)).toEqual([]);
	});

	it("publishes payment.processed again for a paid order still `created`", async () => {
		const o = newOrder();
		const p = await charged(o);
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "processed_republished", orderId: o.orderId, paymentId: p._id });
		await waitFor(() => ofOrder("payment.processed", o.orderId).length === 2);
		fake.orders.set(o.orderId, { ...o, status: "confirmed" });
	});

	it("finishes a refund left in flight under its key, refunding once at the provider", async () => {
		const o = newOrder();
		const p = await charged(o);
		fake.orders.set(o.orderId, { ...o, status: "confirmed" });
		const refundId = `r-${p._id}`;
		await payments.compareAndSet(
			null,
			{ _id: p._id },
			{
				$inc: { refundedCents: 4000 },
				$set: { [`refundsInFlight.${refundId}`]: { amountCents: 4000, reason: "crash", by: "admin-1", at: LONG_AGO } },
			},
		);
		const req = { paymentId: p._id, providerRef: p.providerRef!, refundId, amountCents: 4000 };
		await provider.refund({ ...req, idempotencyKey: `refund:${refundId}` }); // reached the provider, then the crash
		const executed = provider.executed;
		const report = await reconcile();
		expect(report.repairs).toContainEqual({ kind: "refund_resolved", orderId: o.orderId, paymentId: p._id });
		const after = (await payments.findEntity(p._id))!;
		expect(after).toMatchObject({ status: "partially_refunded", refundedCents: 4000 });
		expect(after.refundsInFlight).toEqual({});
		expect(after.transactions.filter((t) => t.kind === "refund")).toHaveLength(1);
		expect(provider.executed).toBe(executed);
	});

	it("reports what it cannot repair: a confirmed order whose payment failed", async () => {
		const o = newOrder();
		const p = await charged(o);
		fake.orders.set(o.orderId, { ...o, status: "confirmed" });
		expect((await reconcile()).mismatches.filter((m) => m.orderId === o.orderId)).toEqual([]);
		// Break the agreement behind the services' backs, as a bug or a lost message would.
		await payments.updateEntity(null, p._id, { $set: { status: "failed" } });
		const report = await reconcile();
		expect(report.mismatches).toContainEqual({
			orderId: o.orderId,
			paymentId: p._id,
			problem: "active_order_not_paid",
		});
		await waitFor(() =>
			events
				.ofType("reconciliation.mismatch")
				.find((e) => e.data.orderId === o.orderId && e.data.problem === "active_order_not_paid"),
		);
	});

	it("reports an order that never got a payment, once past the grace period", async () => {
		const orphan = newOrder("card", null, { updatedAt: new Date(Date.now() - 3600_000).toISOString() });
		const fresh = newOrder("card", null, { updatedAt: new Date().toISOString() });
		const report = await reconcile(60_000);
		const unpaid = report.mismatches.filter((x) => x.problem === "order_without_payment");
		expect(unpaid).toContainEqual({ orderId: orphan.orderId, paymentId: null, problem: "order_without_payment" });
		expect(unpaid.find((x) => x.orderId === fresh.orderId)).toBeUndefined();
		fake.orders.delete(orphan.orderId);
		fake.orders.delete(fresh.orderId);
	});

	it("alerts with reconciliation.mismatch when a run repairs more than the threshold", async () => {
		const saved = payments.settings.reconcileAlertThreshold;
		payments.settings.reconcileAlertThreshold = 1;
		try {
			await Promise.all([newOrder(), newOrder()].map((o) => charged(o)));
			const report = await reconcile();
			expect(report.repairs.length).toBeGreaterThan(1);
			await waitFor(() =>
				events
					.ofType("reconciliation.mismatch")
					.find((e) => e.data.problem === "too_many_repairs" && e.data.repairs === report.repairs.length),
			);
		} finally {
			payments.settings.reconcileAlertThreshold = saved;
			for (const [id, o] of fake.orders) if (o.status === "created") fake.orders.set(id, { ...o, status: "confirmed" });
		}
	});
});

describe("refunds", () => {
	async function capturedPayment() {
		const o = newOrder();
		const p = await charged(o);
		fake.orders.set(o.orderId, { ...o, status: "confirmed" });
		return p;
	}
	const refund = (id: string, amountCents?: number) =>
		broker.call("payments.refund", { id, amountCents, reason: "test" }, asAdmin) as Promise<PaymentView>;

	it("refunds once per refund id: the same refund asked again changes nothing", async () => {
		const p = await capturedPayment();
		const executed = provider.executed;
		const once = await payments.refund(null, p, 3000, "dup", "admin-1", "same-refund");
		const twice = await payments.refund(null, once, 3000, "dup", "admin-1", "same-refund");
		expect(twice).toMatchObject({ refundedCents: 3000, status: "partially_refunded" });
		expect(twice.transactions.filter((t) => t.kind === "refund")).toHaveLength(1);
		expect(provider.executed).toBe(executed + 1);
		await waitFor(() => ofOrder("refund.processed", p.orderId).length === 1);
	});

	it("never refunds more than was captured", async () => {
		const p = await capturedPayment();
		await expect(refund(p._id, 10_001)).rejects.toMatchObject({ code: 409, type: "REFUND_EXCEEDS_PAID" });
		await expect(refund(p._id, 6000)).resolves.toMatchObject({ refundedCents: 6000 });
		await expect(refund(p._id)).resolves.toMatchObject({ status: "refunded", refundedCents: 10_000 });
		await expect(refund(p._id)).rejects.toMatchObject({ code: 409 });
	});

	it("leaves the right status when a failed refund races a successful one", async () => {
		const p = await capturedPayment();
		// The provider is slow to refuse the first refund; the second one succeeds meanwhile.
		let calls = 0;
		const original = provider.refund.bind(provider);
		provider.refund = async (req) => {
			if (++calls === 1) {
				await new Promise((r) => setTimeout(r, 200));
				throw new Error("provider refused");
			}
			return original(req);
		};
		let results;
		try {
			const failing = refund(p._id, 500).catch((err) => err);
			await waitFor(() => calls === 1);
			results = await Promise.all([failing, refund(p._id, p.amountCents - 500)]);
		} finally {
			provider.refund = original;
		}
		expect(results[0]).toMatchObject({ code: 502, type: "REFUND_FAILED" });
		expect(results[1]).toMatchObject({ id: p._id });
		const after = (await payments.findEntity(p._id))!;
		expect(after).toMatchObject({
			status: "partially_refunded",
			refundedCents: p.amountCents - 500,
			refundsInFlight: {},
		});
		await expect(refund(p._id, 500)).resolves.toMatchObject({ status: "refunded", refundedCents: p.amountCents });
	});

	it("refunds a paid order cancelled through order.cancelled, once whatever the redelivery", async () => {
		const p = await capturedPayment();
		const cancelled = {
			orderId: p.orderId,
			customerId: p.customerId,
			supplierId: p.supplierId,
			courierId: null,
			reason: "changed mind",
			cancelledBy: p.customerId,
			wasPaid: true,
		};
		await publish("order.cancelled", cancelled);
		await publish("order.cancelled", cancelled);
		await waitFor(() => ofOrder("refund.processed", p.orderId).length === 1);
		await new Promise((r) => setTimeout(r, 150));
		expect(ofOrder("refund.processed", p.orderId)).toHaveLength(1);
		expect(await payments.findEntity(p._id)).toMatchObject({ status: "refunded", refundedCents: 10_000 });
	});
});

describe("after a restart (a store on disk)", () => {
	it("resolves a charge left processing from the provider's memory of the key", async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "payments-"));
		let first = await start({ DATA_DIR: dir });
		try {
			const o = newOrder();
			const p = await first.svc.ensurePayment(null, o);
			await first.svc.compareAndSet(
				null,
				{ _id: p._id },
				{
					$set: { status: "processing", chargeKey: `charge:${p._id}`, processingSince: LONG_AGO },
					$inc: { attempts: 1 },
				},
			);
			const request = { paymentId: p._id, orderId: o.orderId, amountCents: p.amountCents, method: "card" as const };
			await first.svc.provider.charge({ ...request, idempotencyKey: `charge:${p._id}`, token: TEST_CARDS.success });
			await first.b.stop(); // the crash: the answer was never recorded
			first = await start({ DATA_DIR: dir });
			const report = (await first.b.call("payments.reconcile", { graceMs: 0 })) as ReconcileReport;
			expect(report.repairs).toContainEqual({ kind: "processing_succeeded", orderId: o.orderId, paymentId: p._id });
			expect(await first.svc.findEntity(p._id)).toMatchObject({ status: "captured" });
			expect((first.svc.provider as SimulatedProvider).executed).toBe(0);
		} finally {
			await first.b.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it("settles a PIX left pending by a restart (its confirmation timer gone): paid, from the stored creation time", async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "payments-pix-"));
		// The simulated customer pays 300 ms after the PIX is issued; the process dies before that.
		let node = await start({ DATA_DIR: dir, PIX_AUTO_CONFIRM_MS: "300" });
		try {
			const o = newOrder("pix", null);
			await node.b.call("probe.publish", { type: "order.created", data: orderCreated(o) });
			let p: Payment | null = null;
			await waitFor(async () => (p = await node.svc.findOneEntity({ orderId: o.orderId }))?.status === "pending");
			await node.b.stop(); // the timer that would have confirmed it dies with the process
			node = await start({ DATA_DIR: dir, PIX_AUTO_CONFIRM_MS: "300" });
			expect(await node.svc.findEntity(p!._id)).toMatchObject({ status: "pending" });
			await new Promise((r) => setTimeout(r, 350));
			const report = (await node.b.call("payments.reconcile", { graceMs: 0 })) as ReconcileReport;
			expect(report.repairs).toContainEqual({ kind: "pix_confirmed", orderId: o.orderId, paymentId: p!._id });
			expect(report.mismatches.filter((m) => m.orderId === o.orderId)).toEqual([]);
			expect(await node.svc.findEntity(p!._id)).toMatchObject({ status: "captured", capturedCents: 10_000 });
			// Charged once: one PIX issued at the provider, and one captured entry in the ledger.
			const after = (await node.svc.findEntity(p!._id))!;
			expect(after.transactions.filter((t) => t.status === "captured")).toHaveLength(1);
			// Settled once: the next run has no PIX left to settle.
			const again = (await node.b.call("payments.reconcile", { graceMs: 0 })) as ReconcileReport;
			expect(again.repairs.filter((r) => r.kind === "pix_confirmed" && r.paymentId === p!._id)).toEqual([]);
		} finally {
			await node.b.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});

	it("expires a PIX the customer never paid, after PIX_EXPIRY_MS: payment.failed (pix_expired)", async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "payments-pix-"));
		let node = await start({ DATA_DIR: dir, PIX_AUTO_CONFIRM_MS: "0", PIX_EXPIRY_MS: "400" });
		try {
			const o = newOrder("pix", null);
			await node.b.call("probe.publish", { type: "order.created", data: orderCreated(o) });
			let p: Payment | null = null;
			await waitFor(async () => (p = await node.svc.findOneEntity({ orderId: o.orderId }))?.status === "pending");
			// Within its window the PIX waits for the customer: no repair, no mismatch.
			const early = (await node.b.call("payments.reconcile", { graceMs: 0 })) as ReconcileReport;
			expect(early.repairs.filter((r) => r.paymentId === p!._id)).toEqual([]);
			expect(early.mismatches.filter((m) => m.orderId === o.orderId)).toEqual([]);
			await node.b.stop();
			node = await start({ DATA_DIR: dir, PIX_AUTO_CONFIRM_MS: "0", PIX_EXPIRY_MS: "400" });
			await new Promise((r) => setTimeout(r, 450));
			const report = (await node.b.call("payments.reconcile", { graceMs: 0 })) as ReconcileReport;
			expect(report.repairs).toContainEqual({ kind: "pix_expired", orderId: o.orderId, paymentId: p!._id });
			expect(await node.svc.findEntity(p!._id)).toMatchObject({ status: "failed", failureReason: "pix_expired" });
			await waitFor(() => ofOrder("payment.failed", o.orderId).find((e) => e.data.reason === "pix_expired"));
		} finally {
			await node.b.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
