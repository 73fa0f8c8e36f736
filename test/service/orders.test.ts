/**
 * The orders service on a broker, its neighbours faked: products (stock), payments (forOrder).
 * Actions through broker.call, events through the durable channels, failure paths, the outbox,
 * the keyset list, trackingView and the payment-deadline repair job.
 */
import { ServiceBroker, ServiceSchema } from "moleculer";
import { channelName } from "../../mixins/events.mixin";
import { makeEnvelope } from "../../lib/infra/envelopes";
import { topicOf } from "../../lib/domain/events";
import type { EventMap, EventName } from "../../lib/contracts/events";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";

jest.setTimeout(30000);

const CUSTOMER = { id: "cust-1", role: "customer" };
const OTHER = { id: "cust-2", role: "customer" };
const SUPPLIER = { id: "sup-1", role: "supplier" };
const COURIER = { id: "cour-1", role: "courier" };
const ADMIN = { id: "adm-1", role: "admin" };

/** A fake products service: prices from a fixed catalog, calls recorded, releases may fail. */
function fakeProducts() {
	const calls: { action: string; orderId: string }[] = [];
	const state = { releaseFailures: 0 };
	const schema: ServiceSchema = {
		name: "products",
		actions: {
			reserveStock(ctx) {
				const params = ctx.params as { orderId: string; items: { productId: string }[] };
				calls.push({ action: "reserve", orderId: params.orderId });
				return {
					supplier: { name: "Gás Bom", location: { lat: -23.56, lng: -46.64 } },
					distanceKm: 2,
					products: params.items.map((i) => ({
						productId: i.productId,
						type: "P13",
						priceCents: 12000,
						depositCents: 0,
					})),
				};
			},
			releaseStock(ctx) {
				const { orderId } = ctx.params as { orderId: string };
				if (state.releaseFailures > 0) {
					state.releaseFailures--;
					throw new Error("products is restarting");
				}
				calls.push({ action: "release", orderId });
				return { released: true };
			},
			commitStock(ctx) {
				calls.push({ action: "commit", orderId: (ctx.params as { orderId: string }).orderId });
				return { committed: true };
			},
		},
	};
	return {
		schema,
		calls,
		state,
		of: (action: string, orderId: string) => calls.filter((c) => c.action === action && c.orderId === orderId),
	};
}

/** Calls orders.create as a user would through the gateway, and returns the status code it set. */
const caller: ServiceSchema = {
	name: "caller",
	actions: {
		async create(ctx) {
			const { user, params, key } = ctx.params as { user: object; params: object; key?: string };
			const order = await ctx.call("orders.create", params, {
				meta: { user, ...(key ? { idempotencyKey: key } : {}) },
			});
			return { order, statusCode: ctx.meta.$statusCode };
		},
	},
};

const orderParams = (extra: Record<string, unknown> = {}) => ({
	supplierId: SUPPLIER.id,
	items: [{ productId: "p13", quantity: 1 }],
	deliveryAddress: { street: "Praça da Sé", lat: -23.5505, lng: -46.6333 },
	paymentMethod: "card",
	paymentToken: "tok_ok",
	...extra,
});

function sendEvent<K extends EventName>(broker: ServiceBroker, type: K, data: EventMap[K]) {
	const envelope = makeEnvelope(type, data, "system", null);
	return (broker as unknown as { sendToChannel(c: string, e: unknown): Promise<void> })
		.sendToChannel(channelName(topicOf(type)), envelope)
		.then(() => envelope);
}

async function place(broker: ServiceBroker, user = CUSTOMER, extra = {}, key?: string) {
	return (await broker.call("caller.create", { user, params: orderParams(extra), key })) as {
		order: any;
		statusCode: number;
	};
}

const getOrder = (broker: ServiceBroker, id: string, user: object = ADMIN) =>
	broker.call("orders.get", { id }, { meta: { user } }) as Promise<any>;

const paid = (orderId: string, status: "captured" | "authorized" | "pending" = "captured") => ({
	paymentId: `pay-${orderId}`,
	orderId,
	customerId: CUSTOMER.id,
	supplierId: SUPPLIER.id,
	amountCents: 12500,
	method: "card",
	status,
});

describe("orders service", () => {
	let broker: ServiceBroker;
	const products = fakeProducts();
	const events = eventRecorder();
	const eventsFor = (type: string, orderId: string) => events.ofType(type).filter((e) => e.data.orderId === orderId);

	beforeAll(async () => {
		broker = await startBroker({
			services: ["orders"],
			extraServices: [products.schema, caller, events.schema],
			env: { ORDER_PAYMENT_DEADLINE_MS: "0", EVENT_RETRY_BASE_MS: "5" },
		});
	});
	afterAll(() => broker.stop());

	it("places an order (201) with the server's prices, names the customer, and records order.created", async () => {
		await sendEvent(broker, "user.created", {
			userId: CUSTOMER.id,
			email: "c@x",
			name: "Maria Cliente",
			role: "customer",
			status: "active",
			locale: "pt-BR",
			inviteId: null,
			supplierId: null,
		});
		await waitFor(
			async () => (await broker.getLocalService("orders").kind("customers").findById(CUSTOMER.id)) !== null,
		);
		const { order, statusCode } = await place(broker, CUSTOMER, { totalCents: 1 });
		expect(statusCode).toBe(201);
		expect(order).toMatchObject({ status: "created", totalCents: 12500, customerName: "Maria Cliente" });
		expect(order.handoverCode).toMatch(/^\d{6}$/);
		for (const hidden of ["stagedPaymentToken", "requestHash", "hasPaymentToken", "stockAction"])
			expect(order).not.toHaveProperty(hidden);
		await waitFor(() => eventsFor("order.created", order.id).length === 1);
		const [created] = eventsFor("order.created", order.id);
		expect(created.data).toMatchObject({ totalCents: 12500, hasPaymentToken: true });
		expect(JSON.stringify(created)).not.toContain("tok_ok");
		expect(products.of("reserve", order.id)).toHaveLength(1);
		// Orders keep no copy of the catalog, and customers live in their own record kind.
		const orders: any = broker.getLocalService("orders");
		expect(await orders.countEntities({ kind: "product" })).toBe(0);
		expect(await orders.countEntities({ _id: CUSTOMER.id })).toBe(0);
	});

	it("rejects bad orders before reserving stock", async () => {
		const before = products.calls.length;
		const twice = {
			items: [
				{ productId: "a", quantity: 1 },
				{ productId: "a", quantity: 2 },
			],
		};
		await expect(place(broker, CUSTOMER, twice)).rejects.toMatchObject({ code: 422 });
		await expect(place(broker, CUSTOMER, { paymentToken: undefined })).rejects.toMatchObject({ code: 422 });
		expect(products.calls.length).toBe(before);
	});

	it("replays a retried POST with its Idempotency-Key (200), and refuses the key for another order (422)", async () => {
		const first = await place(broker, CUSTOMER, {}, "key-1");
		const again = await place(broker, CUSTOMER, {}, "key-1");
		expect([first.statusCode, again.statusCode]).toEqual([201, 200]);
		expect(again.order.id).toBe(first.order.id);
		await expect(place(broker, CUSTOMER, { paymentMethod: "cash" }, "key-1")).rejects.toMatchObject({ code: 422 });
		expect(products.calls.filter((c) => c.action === "reserve" && c.orderId === first.order.id)).toHaveLength(1);
	});

	it("keeps order.created when the channel is down at POST time, and publishes it once it is back", async () => {
		const channels = broker as unknown as { sendToChannel: (c: string, e: { type?: string }) => Promise<void> };
		const send = channels.sendToChannel;
		let refused = 0;
		channels.sendToChannel = function (channel, envelope) {
			if (envelope && envelope.type === "order.created") {
				refused++;
				return Promise.reject(new Error("NATS is down"));
			}
			return send.call(this, channel, envelope);
		};
		let placed;
		try {
			placed = await place(broker, CUSTOMER, {}, "lost-event");
			expect(placed.statusCode).toBe(201);
			await waitFor(() => refused >= 2, 5000); // the relay retries every second
			expect(eventsFor("order.created", placed.order.id)).toHaveLength(0);
		} finally {
			channels.sendToChannel = send;
		}
		await waitFor(() => eventsFor("order.created", placed.order.id).length === 1, 5000);
		const retry = await place(broker, CUSTOMER, {}, "lost-event");
		expect(retry.statusCode).toBe(200);
		await new Promise((r) => setTimeout(r, 1200));
		expect(eventsFor("order.created", placed.order.id)).toHaveLength(1);
	});

	it("confirms on payment.processed, and a late pending never overwrites captured", async () => {
		const { order } = await place(broker);
		await sendEvent(broker, "payment.processed", paid(order.id));
		await waitFor(async () => (await getOrder(broker, order.id)).status === "confirmed");
		await sendEvent(broker, "payment.processed", paid(order.id, "pending"));
		await waitFor(() => eventsFor("order.confirmed", order.id).length === 1);
		await new Promise((r) => setTimeout(r, 200));
		const confirmed = await getOrder(broker, order.id);
		expect(confirmed).toMatchObject({ paymentStatus: "captured", paymentId: `pay-${order.id}` });
		expect(confirmed.promisedBy).toBeTruthy();
		expect(eventsFor("order.confirmed", order.id)[0].data).toMatchObject({ cylinders: 1, paymentMethod: "card" });
	});

	it("cancels on payment.failed, releases the stock, and publishes order.cancelled once", async () => {
		const { order } = await place(broker);
		const failed = { ...paid(order.id), reason: "card_declined" } as EventMap["payment.failed"];
		await sendEvent(broker, "payment.failed", failed);
		await waitFor(() => products.of("release", order.id).length === 1);
		const cancelled = await getOrder(broker, order.id);
		expect(cancelled).toMatchObject({
			status: "cancelled",
			paymentStatus: "failed",
			cancelReason: "payment_failed: card_declined",
		});
		await sendEvent(broker, "payment.failed", failed); // redelivered under another envelope
		await new Promise((r) => setTimeout(r, 200));
		expect(eventsFor("order.cancelled", order.id)).toHaveLength(1);
		expect(eventsFor("order.cancelled", order.id)[0].data).toMatchObject({ wasPaid: false, cancelledBy: "system" });
	});

	it("finishes a failed stock release on the caller's retry, not on someone else's", async () => {
		const { order } = await place(broker);
		products.state.releaseFailures = 1;
		const cancel = (user: object) =>
			broker.call("orders.updateStatus", { id: order.id, status: "cancelled", reason: "x" }, { meta: { user } });
		await expect(cancel(CUSTOMER)).rejects.toThrow("products is restarting");
		expect((await getOrder(broker, order.id)).status).toBe("cancelled");
		await waitFor(() => eventsFor("order.cancelled", order.id).length === 1);
		await expect(cancel(SUPPLIER)).rejects.toMatchObject({ code: 409 });
		expect(((await cancel(CUSTOMER)) as any).status).toBe("cancelled");
		expect(products.of("release", order.id)).toHaveLength(1);
		await expect(cancel(CUSTOMER)).rejects.toMatchObject({ code: 409 });
		expect(eventsFor("order.cancelled", order.id)).toHaveLength(1);
	});

	it("counts a refund once on the order when refund.processed comes again under another envelope id", async () => {
		const { order } = await place(broker);
		await sendEvent(broker, "payment.processed", paid(order.id));
		await waitFor(async () => (await getOrder(broker, order.id)).status === "confirmed");
		const refund = (refundId: string, amountCents: number, fullyRefunded = false) => ({
			paymentId: `pay-${order.id}`,
			refundId,
			orderId: order.id,
			customerId: CUSTOMER.id,
			amountCents,
			fullyRefunded,
		});
		await sendEvent(broker, "refund.processed", refund("r1", 300));
		await sendEvent(broker, "refund.processed", refund("r2", 200));
		await waitFor(async () => (await getOrder(broker, order.id)).refundedCents === 500);
		expect((await getOrder(broker, order.id)).paymentStatus).toBe("partially_refunded");
		await sendEvent(broker, "refund.processed", refund("r1", 300));
		await sendEvent(broker, "refund.processed", refund("r2", 200));
		// The last refund, after the copies: once it is counted, the copies were handled too (or never will be).
		await sendEvent(broker, "refund.processed", refund("r3", 12000, true));
		await waitFor(async () => (await getOrder(broker, order.id)).paymentStatus === "refunded");
		await new Promise((r) => setTimeout(r, 200));
		expect((await getOrder(broker, order.id)).refundedCents).toBe(12500);
	});

	it("delivers with the handover code: wrong codes use up attempts, the right one commits the stock", async () => {
		const { order } = await place(broker);
		await sendEvent(broker, "payment.processed", paid(order.id));
		await waitFor(async () => (await getOrder(broker, order.id)).status === "confirmed");
		const assigned = {
			orderId: order.id,
			courierId: COURIER.id,
			supplierId: SUPPLIER.id,
			customerId: CUSTOMER.id,
			etaMinutes: 12,
			waitedSeconds: 3,
		};
		await sendEvent(broker, "courier.assigned", assigned);
		await waitFor(async () => (await getOrder(broker, order.id)).courierId === COURIER.id);
		const move = (params: object, user: object = COURIER) =>
			broker.call("orders.updateStatus", { id: order.id, ...params }, { meta: { user } }) as Promise<any>;
		expect((await move({ status: "in_transit" })).status).toBe("in_transit");
		const seenByCourier = await getOrder(broker, order.id, COURIER);
		expect(seenByCourier).not.toHaveProperty("handoverCode");
		const code = (await getOrder(broker, order.id, CUSTOMER)).handoverCode;
		const wrong = code === "000000" ? "111111" : "000000";
		await expect(move({ status: "delivered", handoverCode: wrong })).rejects.toMatchObject({
			code: 422,
			data: { attemptsLeft: 4 },
		});
		await expect(move({ status: "delivered" })).rejects.toMatchObject({ code: 422 });
		const delivered = await move({ status: "delivered", handoverCode: code });
		expect(delivered).toMatchObject({ status: "delivered", handoverFailures: 1 });
		expect(products.of("commit", order.id)).toHaveLength(1);
		await waitFor(() => eventsFor("order.delivered", order.id).length === 1);
		await waitFor(() => eventsFor("order.in_transit", order.id).length === 1);
	});

	it("lists by role with a keyset cursor, and counts only when asked", async () => {
		const mine: string[] = [];
		for (let i = 0; i < 5; i++) mine.push((await place(broker, OTHER)).order.id);
		const list = (params: object, user: object = OTHER) =>
			broker.call("orders.list", params, { meta: { user } }) as Promise<any>;
		const first = await list({ pageSize: 2 });
		expect(first).not.toHaveProperty("total");
		expect(first.rows).toHaveLength(2);
		const seen = [...first.rows];
		let next = first.next;
		while (next) {
			const page = await list({ pageSize: 2, cursor: next });
			seen.push(...page.rows);
			next = page.next;
		}
		// Every order once, newest first (ties within a millisecond by id).
		expect(seen.map((o) => o.id).sort()).toEqual([...mine].sort());
		const byKey = [...seen].sort((a, b) =>
			a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
		);
		expect(seen.map((o) => o.id)).toEqual(byKey.map((o) => o.id));
		expect((await list({ pageSize: 2, withTotal: "true" })).total).toBe(5);
		expect((await list({ pageSize: 2, page: 3 })).rows.map((o: any) => o.id)).toEqual([seen[4].id]);
		await expect(list({ cursor: "not-a-cursor" })).rejects.toMatchObject({ code: 422 });
		await expect(list({ from: "2024-99-99T99:99Z" })).rejects.toMatchObject({ code: 422 });
		// Another customer sees none of them; an admin filters by customer.
		expect((await list({ withTotal: true }, { id: "nobody", role: "customer" })).total).toBe(0);
		expect((await list({ customerId: OTHER.id, withTotal: true }, ADMIN)).total).toBe(5);
	});

	it("hides an order from users who are not its parties", async () => {
		const { order } = await place(broker);
		await expect(getOrder(broker, order.id, OTHER)).rejects.toMatchObject({ code: 403 });
		await expect(getOrder(broker, order.id, COURIER)).rejects.toMatchObject({ code: 403 });
		await expect(getOrder(broker, "no-such-order")).rejects.toMatchObject({ code: 404 });
	});

	it("answers trackingView by the same visibility rule", async () => {
		const { order } = await place(broker);
		const view = (userId: string, role: string, orderId = order.id) =>
			broker.call("orders.trackingView", { orderId, userId, role }) as Promise<any>;
		expect(await view(CUSTOMER.id, "customer")).toEqual({
			visible: true,
			status: "created",
			deliveryLocation: { lat: -23.5505, lng: -46.6333 },
			supplierLocation: { lat: -23.56, lng: -46.64 },
			courierId: null,
			customerId: CUSTOMER.id,
			supplierId: SUPPLIER.id,
		});
		expect((await view(SUPPLIER.id, "supplier")).visible).toBe(true);
		expect((await view("adm", "admin")).visible).toBe(true);
		const hidden = {
			visible: false,
			status: null,
			deliveryLocation: null,
			courierId: null,
			customerId: null,
			supplierId: null,
		};
		expect(await view(OTHER.id, "customer")).toEqual(hidden);
		expect(await view(COURIER.id, "courier")).toEqual(hidden);
		expect(await view(CUSTOMER.id, "customer", "missing")).toEqual(hidden);
		const assigned = {
			orderId: order.id,
			courierId: COURIER.id,
			supplierId: SUPPLIER.id,
			customerId: CUSTOMER.id,
			etaMinutes: 5,
			waitedSeconds: 1,
		};
		await sendEvent(broker, "courier.assigned", assigned);
		await waitFor(async () => (await view(COURIER.id, "courier")).visible);
		expect((await view(COURIER.id, "courier")).courierId).toBe(COURIER.id);
		await expect(
			broker.call("orders.trackingView", { orderId: order.id, userId: "x", role: "robot" }),
		).rejects.toMatchObject({
			code: 422,
		});
	});

	it("tells payments the state of orders and hands over the token once", async () => {
		const { order } = await place(broker);
		const [state] = (await broker.call("orders.statusesFor", { orderIds: [order.id] })) as any[];
		expect(state).toMatchObject({ orderId: order.id, status: "created", paymentStatus: "none", wasPaid: false });
		expect(await broker.call("orders.takePaymentToken", { orderId: order.id })).toEqual({ paymentToken: "tok_ok" });
		expect(await broker.call("orders.takePaymentToken", { orderId: order.id })).toEqual({ paymentToken: null });
		const since = new Date(Date.now() - 60_000).toISOString();
		expect(await broker.call("orders.changedSince", { since })).toContain(order.id);
	});
});

describe("payment-deadline repair job", () => {
	let broker: ServiceBroker;
	const products = fakeProducts();
	const events = eventRecorder("repair_recorder");
	const payments = new Map<string, { status: string; paymentId?: string } | null>();
	const eventsFor = (type: string, orderId: string) => events.ofType(type).filter((e) => e.data.orderId === orderId);
	const fakePayments: ServiceSchema = {
		name: "payments",
		actions: {
			forOrder(ctx) {
				const { orderId } = ctx.params as { orderId: string };
				return payments.get(orderId) ?? null;
			},
		},
	};

	beforeAll(async () => {
		broker = await startBroker({
			services: ["orders"],
			extraServices: [products.schema, caller, events.schema, fakePayments],
			env: { ORDER_PAYMENT_DEADLINE_MS: "300" },
		});
	});
	afterAll(() => broker.stop());

	it("confirms a paid order, leaves a pending one, cancels one without payment (stock released, events)", async () => {
		const paidOrder = (await place(broker)).order;
		const pendingOrder = (await place(broker)).order;
		const unpaidOrder = (await place(broker)).order;
		const failedOrder = (await place(broker)).order;
		payments.set(paidOrder.id, { status: "captured", paymentId: "pay-A" });
		payments.set(pendingOrder.id, { status: "processing", paymentId: "pay-B" });
		payments.set(failedOrder.id, { status: "failed", paymentId: "pay-D" });
		products.state.releaseFailures = 1; // the first release fails: the job retries it

		await waitFor(async () => (await getOrder(broker, paidOrder.id)).status === "confirmed", 5000);
		await waitFor(async () => (await getOrder(broker, unpaidOrder.id)).status === "cancelled", 5000);
		await waitFor(async () => (await getOrder(broker, failedOrder.id)).status === "cancelled", 5000);
		expect(await getOrder(broker, paidOrder.id)).toMatchObject({ paymentStatus: "captured", paymentId: "pay-A" });
		const unpaid = await getOrder(broker, unpaidOrder.id);
		expect(unpaid.cancelReason).toBe("payment_timeout");
		await waitFor(() => eventsFor("order.cancelled", unpaidOrder.id).length === 1);
		expect(eventsFor("order.cancelled", unpaidOrder.id)[0].data).toMatchObject({
			reason: "payment_timeout",
			wasPaid: false,
		});
		await waitFor(() => eventsFor("order.confirmed", paidOrder.id).length === 1);
		await waitFor(
			() => products.of("release", unpaidOrder.id).length === 1 && products.of("release", failedOrder.id).length === 1,
			5000,
		);
		const mismatches = events.ofType("reconciliation.mismatch").map((e) => [e.data.orderId, e.data.problem]);
		expect(mismatches).toEqual(
			expect.arrayContaining([
				[paidOrder.id, "paid_order_not_confirmed"],
				[unpaidOrder.id, "order_without_payment"],
				[failedOrder.id, "payment_failed_not_cancelled"],
			]),
		);
		await new Promise((r) => setTimeout(r, 500));
		expect((await getOrder(broker, pendingOrder.id)).status).toBe("created");
		expect(eventsFor("order.confirmed", paidOrder.id)).toHaveLength(1);
		expect(eventsFor("order.cancelled", unpaidOrder.id)).toHaveLength(1);
		expect(products.of("release", unpaidOrder.id)).toHaveLength(1);
		expect(events.ofType("reconciliation.mismatch").filter((e) => e.data.orderId === pendingOrder.id)).toHaveLength(0);
	});
});

describe("payment-deadline repair job and PIX orders", () => {
	let broker: ServiceBroker;
	const products = fakeProducts();
	const events = eventRecorder("pix_recorder");
	const payments = new Map<string, { status: string; paymentId?: string } | null>();
	const fakePayments: ServiceSchema = {
		name: "payments",
		actions: {
			forOrder(ctx) {
				const { orderId } = ctx.params as { orderId: string };
				return payments.get(orderId) ?? null;
			},
		},
	};
	const PIX_EXPIRY_MS = 2000;

	beforeAll(async () => {
		broker = await startBroker({
			services: ["orders"],
			extraServices: [products.schema, caller, events.schema, fakePayments],
			env: { ORDER_PAYMENT_DEADLINE_MS: "200", PIX_EXPIRY_MS: String(PIX_EXPIRY_MS) },
		});
	});
	afterAll(() => broker.stop());

	it("waits for a payable PIX until its expiry instead of cancelling it at the deadline, then cancels it", async () => {
		const pix = { paymentMethod: "pix", paymentToken: undefined };
		const pendingPix = (await place(broker, CUSTOMER, pix)).order;
		const notIssuedPix = (await place(broker, CUSTOMER, pix)).order;
		const unpaidCard = (await place(broker)).order;
		payments.set(pendingPix.id, { status: "pending", paymentId: "pay-pix" });

		// The card order without a payment is cancelled at the deadline...
		await waitFor(async () => (await getOrder(broker, unpaidCard.id)).status === "cancelled", 5000);
		// ...while both PIX orders, past the same deadline, still wait for their customer.
		await new Promise((r) => setTimeout(r, 600));
		expect((await getOrder(broker, pendingPix.id)).status).toBe("created");
		expect((await getOrder(broker, notIssuedPix.id)).status).toBe("created");

		// Past PIX_EXPIRY_MS nobody can pay them any more: cancelled, stock released.
		await waitFor(async () => (await getOrder(broker, pendingPix.id)).status === "cancelled", 5000);
		await waitFor(async () => (await getOrder(broker, notIssuedPix.id)).status === "cancelled", 5000);
		const cancelled = await getOrder(broker, pendingPix.id);
		expect(cancelled.cancelReason).toBe("payment_timeout");
		expect(Date.parse(cancelled.updatedAt) - Date.parse(cancelled.createdAt)).toBeGreaterThanOrEqual(PIX_EXPIRY_MS);
		await waitFor(
			() => products.of("release", pendingPix.id).length === 1 && products.of("release", notIssuedPix.id).length === 1,
			5000,
		);
	});

	it("confirms a PIX paid before its expiry", async () => {
		const order = (await place(broker, CUSTOMER, { paymentMethod: "pix", paymentToken: undefined })).order;
		payments.set(order.id, { status: "captured", paymentId: "pay-pix-2" });
		await waitFor(async () => (await getOrder(broker, order.id)).status === "confirmed", 5000);
	});
});
