/**
 * The marketplace through the gateway: browse and compare, order, pay, confirm; declined cards,
 * cancellations with refunds, idempotent retries, the race for the last cylinder, privacy of
 * orders, and totals the client cannot tamper with.
 */
import {
	CARDS,
	createCustomer,
	createProduct,
	createSupplier,
	HOME,
	Market,
	orderBody,
	startMarket,
	waitForStatus,
	adminToken,
} from "../helpers/market";
import { waitFor } from "../helpers/broker";

jest.setTimeout(30000);

let m: Market;
beforeAll(async () => {
	m = await startMarket();
});
afterAll(async () => {
	await m.stop();
});

async function stockOf(productId: string): Promise<number> {
	const res = await m.api.get(`/api/products/${productId}`);
	return res.body.stock;
}

describe("browse and compare → order → paid → confirmed", () => {
	it("lists the suppliers that deliver to the address, cheapest first, and takes an order to confirmed", async () => {
		const near = await createSupplier(m, {
			businessName: "Perto Gás",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 5,
		});
		const far = await createSupplier(m, {
			businessName: "Longe Gás",
			location: { lat: -23.6, lng: -46.7 },
			deliveryRadiusKm: 15,
		});
		const outOfRange = await createSupplier(m, {
			businessName: "Fora",
			location: { lat: -22.9, lng: -43.2 },
			deliveryRadiusKm: 10,
		});
		const pNear = await createProduct(m, near.token, { type: "P13", priceCents: 12000 });
		const pFar = await createProduct(m, far.token, { type: "P13", priceCents: 10000 });
		await createProduct(m, outOfRange.token, { type: "P13", priceCents: 5000 });

		const byPrice = await m.api.get(
			`/api/products?type=P13&lat=${HOME.lat}&lng=${HOME.lng}&sort=price&supplierId=${""}`,
		);
		expect(byPrice.status).toBe(422); // empty supplierId is not a valid filter

		const list = await m.api.get(`/api/products?type=P13&lat=${HOME.lat}&lng=${HOME.lng}&sort=price`);
		expect(list.status).toBe(200);
		const ids = list.body.rows.map((r: any) => r.id);
		expect(ids).toContain(pNear.id);
		expect(ids).toContain(pFar.id);
		expect(list.body.rows.every((r: any) => r.supplier.id !== outOfRange.id)).toBe(true);
		// far: 10000 + 1400 delivery < near: 12000 + 500
		expect(ids.indexOf(pFar.id)).toBeLessThan(ids.indexOf(pNear.id));
		const byDistance = await m.api.get(`/api/products?type=P13&lat=${HOME.lat}&lng=${HOME.lng}&sort=distance`);
		const dIds = byDistance.body.rows.map((r: any) => r.id);
		expect(dIds.indexOf(pNear.id)).toBeLessThan(dIds.indexOf(pFar.id));

		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(near.id, pNear.id), { token: customer.token });
		expect(res.status).toBe(201);
		expect(res.body.status).toBe("created");
		expect(res.body.totalCents).toBe(12000 + 500);
		expect(res.body.handoverCode).toMatch(/^\d{6}$/);
		expect(res.body).not.toHaveProperty("paymentToken");
		await waitForStatus(m, res.body.id, customer.token, "confirmed");

		const order = (await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body;
		expect(order.history.map((h: any) => h.status)).toEqual(["created", "confirmed"]);
		// History labels in the reader's language: pt-BR by default, English when asked.
		expect(order.history.map((h: any) => h.label)).toEqual(["Pedido feito", "Pagamento confirmado"]);
		const inEnglish = await m.api.get(`/api/orders/${res.body.id}`, {
			token: customer.token,
			headers: { "Accept-Language": "en" },
		});
		expect(inEnglish.body.history.map((h: any) => h.label)).toEqual(["Order placed", "Payment confirmed"]);
		expect(order.paymentStatus).toBe("captured");
		expect(order.promisedBy).toBeTruthy();
		expect(await stockOf(pNear.id)).toBe(9);

		const confirmed = m.events.ofType("order.confirmed").find((e) => e.data.orderId === res.body.id);
		expect(confirmed.data).toMatchObject({
			cylinders: 1,
			deliveryLocation: HOME,
			supplierLocation: { lat: -23.56, lng: -46.64 },
			paymentMethod: "card",
		});
		const created = m.events.ofType("order.created").find((e) => e.data.orderId === res.body.id);
		expect(created.data.totalCents).toBe(12500);
		const payments = await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token });
		expect(payments.body.rows[0]).toMatchObject({ status: "captured", amountCents: 12500 });
		expect(payments.body.rows[0].transactions).toEqual([
			expect.objectContaining({ kind: "charge", status: "captured" }),
		]);
	});
});

describe("payment failures", () => {
	it("cancels the order and puts the stock back when the card is declined", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 3 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { paymentToken: CARDS.declined }), {
			token: customer.token,
		});
		expect(res.status).toBe(201);
		await waitForStatus(m, res.body.id, customer.token, "cancelled");
		await waitFor(async () => (await stockOf(product.id)) === 3);
		// The stock was taken for the order, then given back (the saga may be faster than a GET in between).
		const moves = await waitFor(() => {
			const reasons = m.events
				.ofType("inventory.updated")
				.filter((e) => e.data.productId === product.id)
				.map((e) => e.data.reason);
			return reasons.length === 2 && reasons;
		});
		expect(moves).toEqual(["reserved", "released"]);
		const order = (await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body;
		expect(order.cancelReason).toBe("payment_failed: card_declined");
		expect(order.history.map((h: any) => `${h.status}:${h.role}`)).toEqual(["created:customer", "cancelled:system"]);
		const cancelled = m.events.ofType("order.cancelled").filter((e) => e.data.orderId === res.body.id);
		expect(cancelled).toHaveLength(1);
		expect(cancelled[0].data).toMatchObject({ wasPaid: false, cancelledBy: "system" });
		expect(m.events.ofType("payment.failed").find((e) => e.data.orderId === res.body.id).data.reason).toBe(
			"card_declined",
		);
	});

	it("fails a payment whose provider call times out, and cancels the order", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 2 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { paymentToken: CARDS.timeout }), {
			token: customer.token,
		});
		await waitForStatus(m, res.body.id, customer.token, "cancelled");
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
		expect(payment).toMatchObject({ status: "failed", failureReason: "timeout" });
		await waitFor(async () => (await stockOf(product.id)) === 2);
	});
});

describe("card data never travels in events", () => {
	it("hands the token to payments directly: no recorded envelope contains it, and cards are still charged", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const customer = await createCustomer(m);
		const paid = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		const declined = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: CARDS.declined }),
			{ token: customer.token },
		);
		expect([paid.status, declined.status]).toEqual([201, 201]);
		await waitForStatus(m, paid.body.id, customer.token, "confirmed");
		await waitForStatus(m, declined.body.id, customer.token, "cancelled");
		expect(m.events.ofType("payment.failed").find((e) => e.data.orderId === declined.body.id).data.reason).toBe(
			"card_declined",
		);
		const created = m.events.ofType("order.created").find((e) => e.data.orderId === paid.body.id);
		expect(created.data).not.toHaveProperty("paymentToken");
		expect(created.data.hasPaymentToken).toBe(true);
		const everything = JSON.stringify(m.events.seen);
		for (const card of Object.values(CARDS)) expect(everything).not.toContain(card);
		// Payments forgot the token once the charge was attempted (success or decline).
		const admin = await adminToken(m.api);
		for (const orderId of [paid.body.id, declined.body.id]) {
			const payment = (await m.api.get(`/api/payments?orderId=${orderId}`, { token: admin })).body.rows[0];
			expect(payment.attempts).toBe(1);
			expect(JSON.stringify(payment)).not.toContain(CARDS.success);
		}
		const shown = await m.api.get(`/api/payments?orderId=${paid.body.id}`, { token: customer.token });
		expect(JSON.stringify(shown.body)).not.toContain(CARDS.success);
	});

	it("keeps a card order's token on the order (hidden) until payments takes it, then forgets it", async () => {
		const alone = await startMarket({}, ["api", "users", "products", "orders"]);
		try {
			const supplier = await createSupplier(alone);
			const product = await createProduct(alone, supplier.token, { stock: 2 });
			const customer = await createCustomer(alone);
			const res = await alone.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
			expect(res.status).toBe(201);
			expect(JSON.stringify(res.body)).not.toContain(CARDS.success);
			const seen = await alone.api.get(`/api/orders/${res.body.id}`, { token: customer.token });
			expect(JSON.stringify(seen.body)).not.toContain(CARDS.success);
			expect(JSON.stringify(alone.events.seen)).not.toContain(CARDS.success);
			const first: any = await alone.broker.call("orders.takePaymentToken", { orderId: res.body.id });
			expect(first.paymentToken).toBe(CARDS.success);
			const second: any = await alone.broker.call("orders.takePaymentToken", { orderId: res.body.id });
			expect(second.paymentToken).toBeNull();
		} finally {
			await alone.stop();
		}
	});
});

describe("cancelling a paid order", () => {
	it("refunds the payment in full and records the refund in the ledger", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");

		const cancel = await m.api.put(
			`/api/orders/${res.body.id}/status`,
			{ status: "cancelled", reason: "changed my mind" },
			{ token: customer.token },
		);
		expect(cancel.status).toBe(200);
		expect(cancel.body.status).toBe("cancelled");
		expect(cancel.body.wasPaid).toBe(true);
		await waitFor(async () => (await stockOf(product.id)) === 5);

		const refund = await waitFor(() => m.events.ofType("refund.processed").find((e) => e.data.orderId === res.body.id));
		expect(refund.data.amountCents).toBe(res.body.totalCents);
		const payment = await waitFor(async () => {
			const p = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
			return p.status === "refunded" && p;
		});
		expect(payment.refundedCents).toBe(res.body.totalCents);
		expect(payment.transactions.map((t: any) => t.kind)).toEqual(["charge", "refund"]);
		const order = await waitFor(async () => {
			const o = (await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body;
			return o.paymentStatus === "refunded" && o;
		});
		expect(order.history.at(-1)).toMatchObject({ status: "cancelled", by: customer.id, reason: "changed my mind" });

		// Cancelling again is not a transition: 409 and nothing changes.
		const again = await m.api.put(
			`/api/orders/${res.body.id}/status`,
			{ status: "cancelled" },
			{ token: customer.token },
		);
		expect(again.status).toBe(409);
		expect(m.events.ofType("refund.processed").filter((e) => e.data.orderId === res.body.id)).toHaveLength(1);
	});

	it("finishes a cancellation's side effects on retry when they failed after the status changed", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const broker: any = m.broker;
		const call = broker.call;
		let failed = 0;
		broker.call = function (action: string, ...rest: any[]) {
			if (action === "products.releaseStock" && failed === 0) {
				failed++;
				return Promise.reject(new Error("products is restarting"));
			}
			return call.call(this, action, ...rest);
		};
		const cancel = (token = customer.token) =>
			m.api.put(`/api/orders/${res.body.id}/status`, { status: "cancelled" }, { token });
		let first;
		try {
			first = await cancel();
		} finally {
			broker.call = call;
		}
		expect(failed).toBe(1);
		expect(first.status).toBe(500);
		expect((await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body.status).toBe("cancelled");
		expect(await stockOf(product.id)).toBe(4);
		// order.cancelled goes with the status change (the outbox); only the stock release is left to finish.
		await waitFor(() => m.events.ofType("order.cancelled").find((e) => e.data.orderId === res.body.id));

		// Someone else asking for the same status does not get to run them.
		expect((await cancel(supplier.token)).status).toBe(409);
		const retry = await cancel();
		expect(retry.status).toBe(200);
		expect(retry.body.status).toBe("cancelled");
		expect(await stockOf(product.id)).toBe(5);
		await waitFor(() => m.events.ofType("order.cancelled").find((e) => e.data.orderId === res.body.id));
		await waitFor(() => m.events.ofType("refund.processed").find((e) => e.data.orderId === res.body.id));
		// Done now: a further retry is the plain 409 again, and nothing happens twice.
		expect((await cancel()).status).toBe(409);
		expect(m.events.ofType("order.cancelled").filter((e) => e.data.orderId === res.body.id)).toHaveLength(1);
		expect(m.events.ofType("order.cancelled").find((e) => e.data.orderId === res.body.id).data.wasPaid).toBe(true);
	});

	it("lets an admin refund part of a payment, never more than was paid", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const admin = await adminToken(m.api);
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: admin })).body.rows[0];
		const total = payment.amountCents;

		const byCustomer = await m.api.post(
			`/api/payments/${payment.id}/refund`,
			{ amountCents: 100, reason: "x" },
			{ token: customer.token },
		);
		expect(byCustomer.status).toBe(403);
		const part = await m.api.post(
			`/api/payments/${payment.id}/refund`,
			{ amountCents: 1000, reason: "late delivery" },
			{ token: admin },
		);
		expect(part.status).toBe(200);
		expect(part.body).toMatchObject({ status: "partially_refunded", refundedCents: 1000 });
		const tooMuch = await m.api.post(
			`/api/payments/${payment.id}/refund`,
			{ amountCents: total - 999, reason: "x" },
			{ token: admin },
		);
		expect(tooMuch.status).toBe(409);
		expect(tooMuch.body.type).toBe("REFUND_EXCEEDS_PAID");
		const rest = await m.api.post(`/api/payments/${payment.id}/refund`, { reason: "goodwill" }, { token: admin });
		expect(rest.body).toMatchObject({ status: "refunded", refundedCents: total });
		const none = await m.api.post(
			`/api/payments/${payment.id}/refund`,
			{ amountCents: 1, reason: "x" },
			{ token: admin },
		);
		expect(none.status).toBe(409);
		const badField = await m.api.post(
			`/api/payments/${payment.id}/refund`,
			{ amountCents: 1, reason: "x", to: "me" },
			{ token: admin },
		);
		expect(badField.status).toBe(422);
	});

	it("never refunds more than was paid when partial refunds race", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5, priceCents: 1000 });
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const admin = await adminToken(m.api);
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: admin })).body.rows[0];
		const results = await Promise.all(
			Array.from({ length: 8 }, () =>
				m.api.post(`/api/payments/${payment.id}/refund`, { amountCents: 500, reason: "race" }, { token: admin }),
			),
		);
		const ok = results.filter((r) => r.status === 200).length;
		expect(ok).toBe(Math.floor(payment.amountCents / 500));
		const after = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: admin })).body.rows[0];
		expect(after.refundedCents).toBeLessThanOrEqual(payment.amountCents);
		expect(after.refundedCents).toBe(ok * 500);
		expect(after.refundedCents).toBe(payment.amountCents);
		expect(after.status).toBe("refunded");
		expect(after.transactions.filter((t: any) => t.kind === "refund" && t.status === "succeeded")).toHaveLength(ok);
	});
});

describe("idempotent retries", () => {
	it("returns the same order for a retried POST with the same Idempotency-Key, reserving stock once", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 10 });
		const customer = await createCustomer(m);
		const headers = { "Idempotency-Key": `retry-${Date.now()}` };
		const body = orderBody(supplier.id, product.id, {
			items: [{ productId: product.id, quantity: 2, exchange: true }],
		});
		const first = await m.api.post("/api/orders", body, { token: customer.token, headers });
		const second = await m.api.post("/api/orders", body, { token: customer.token, headers });
		const concurrent = await Promise.all(
			[1, 2, 3].map(() => m.api.post("/api/orders", body, { token: customer.token, headers })),
		);
		expect(first.status).toBe(201);
		expect(second.status).toBe(200);
		expect(second.headers.get("idempotent-replayed")).toBe("true");
		for (const r of [second, ...concurrent]) expect(r.body.id).toBe(first.body.id);
		expect(await stockOf(product.id)).toBe(8);
		const mine = (await m.api.get("/api/orders?withTotal=true", { token: customer.token })).body;
		expect(mine.total).toBe(1);

		const different = await m.api.post(
			"/api/orders",
			{ ...body, items: [{ productId: product.id, quantity: 1 }] },
			{ token: customer.token, headers },
		);
		expect(different.status).toBe(422);
		expect(different.body.type).toBe("IDEMPOTENCY_KEY_REUSED");

		// Another customer's key space is their own.
		const other = await createCustomer(m);
		const theirs = await m.api.post("/api/orders", body, { token: other.token, headers });
		expect(theirs.status).toBe(201);
		expect(theirs.body.id).not.toBe(first.body.id);
	});

	it("charges once when order.created is delivered twice", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const created = m.events.ofType("order.created").find((e) => e.data.orderId === res.body.id);
		const { channelName } = require("../../mixins/events.mixin");
		const { makeEnvelope } = require("../../lib/infra/envelopes");
		// The same event (same id) again, and the same business event under a new envelope id.
		await (m.broker as any).sendToChannel(channelName("order.events"), created);
		await (m.broker as any).sendToChannel(
			channelName("order.events"),
			makeEnvelope("order.created", created.data, "system", null),
		);
		const processed = m.events.ofType("payment.processed").filter((e) => e.data.orderId === res.body.id);
		await new Promise((r) => setTimeout(r, 300));
		expect(m.events.ofType("payment.processed").filter((e) => e.data.orderId === res.body.id)).toHaveLength(
			processed.length,
		);
		expect(processed).toHaveLength(1);
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
		expect(payment.transactions).toHaveLength(1);
		expect(m.events.ofType("order.confirmed").filter((e) => e.data.orderId === res.body.id)).toHaveLength(1);
	});
});

describe("the last cylinders", () => {
	it("sells the last cylinder to exactly one of the customers racing for it; stock never goes negative", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 1 });
		const customers = await Promise.all([createCustomer(m), createCustomer(m)]);
		const results = await Promise.all(
			customers.map((c) => m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: c.token })),
		);
		expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
		expect(results.find((r) => r.status === 409)!.body.type).toBe("OUT_OF_STOCK");
		expect(await stockOf(product.id)).toBe(0);
	});

	it("with many orders racing for a few cylinders, sells exactly the stock, all-or-nothing per order", async () => {
		const supplier = await createSupplier(m);
		const p13 = await createProduct(m, supplier.token, { type: "P13", stock: 5 });
		const p45 = await createProduct(m, supplier.token, { type: "P45", stock: 100, priceCents: 40000 });
		const customer = await createCustomer(m);
		const results = await Promise.all(
			Array.from({ length: 20 }, () =>
				m.api.post(
					"/api/orders",
					orderBody(supplier.id, p45.id, {
						items: [
							{ productId: p45.id, quantity: 1 },
							{ productId: p13.id, quantity: 1 },
						],
					}),
					{ token: customer.token },
				),
			),
		);
		const created = results.filter((r) => r.status === 201).length;
		expect(created).toBe(5);
		expect(results.filter((r) => r.status === 409)).toHaveLength(15);
		expect(await stockOf(p13.id)).toBe(0);
		// The P45 taken by orders that could not get a P13 went back.
		expect(await stockOf(p45.id)).toBe(95);
		const low = m.events.ofType("inventory.updated").filter((e) => e.data.productId === p13.id && e.data.lowStock);
		expect(low.length).toBeGreaterThan(0);
	});
});

describe("privacy and trust", () => {
	it("does not show a customer another customer's order", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const alice = await createCustomer(m);
		const bob = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: alice.token });
		const peek = await m.api.get(`/api/orders/${res.body.id}`, { token: bob.token });
		expect(peek.status).toBe(403);
		expect(peek.text).not.toContain(res.body.handoverCode);
		const cancel = await m.api.put(`/api/orders/${res.body.id}/status`, { status: "cancelled" }, { token: bob.token });
		expect(cancel.status).toBe(403);
		expect((await m.api.get("/api/orders", { token: bob.token })).body.rows.map((o: any) => o.id)).not.toContain(
			res.body.id,
		);
		const anonymous = await m.api.get(`/api/orders/${res.body.id}`);
		expect(anonymous.status).toBe(401);
		// The supplier sees the order, but not the handover code meant for the courier.
		const asSupplier = await m.api.get(`/api/orders/${res.body.id}`, { token: supplier.token });
		expect(asSupplier.status).toBe(200);
		expect(asSupplier.body).not.toHaveProperty("handoverCode");
		const payments = await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: bob.token });
		expect(payments.body.rows).toEqual([]);
	});

	it("ignores totals tampered by the client and charges the server's total", async () => {
		const supplier = await createSupplier(m, { location: { lat: -23.56, lng: -46.64 } });
		const product = await createProduct(m, supplier.token, { priceCents: 11000, depositCents: 15000 });
		const customer = await createCustomer(m);
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, {
				items: [{ productId: product.id, quantity: 2, exchange: false, unitPriceCents: 1 }],
				totalCents: 1,
				deliveryFeeCents: 0,
			}),
			{ token: customer.token },
		);
		expect(res.status).toBe(201);
		const expected = 2 * 11000 + 2 * 15000 + 500;
		expect(res.body.totalCents).toBe(expected);
		expect(res.body.totals).toEqual({
			itemsCents: 22000,
			depositsCents: 30000,
			deliveryFeeCents: 500,
			totalCents: expected,
		});
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
		expect(payment.amountCents).toBe(expected);
	});

	it("rejects bad orders with 4xx and changes nothing", async () => {
		const supplier = await createSupplier(m, { location: { lat: -23.56, lng: -46.64 }, deliveryRadiusKm: 3 });
		const product = await createProduct(m, supplier.token, { stock: 4 });
		const customer = await createCustomer(m);
		const post = (body: any, token = customer.token) => m.api.post("/api/orders", body, { token });
		const cases = [
			await post({ ...orderBody(supplier.id, product.id), coupon: "FREE" }),
			await post(orderBody(supplier.id, product.id, { items: [] })),
			await post(orderBody(supplier.id, product.id, { items: [{ productId: product.id, quantity: 0 }] })),
			await post(orderBody(supplier.id, product.id, { paymentToken: undefined })),
			await post(orderBody(supplier.id, product.id, { paymentMethod: "bitcoin" })),
			await post(orderBody(supplier.id, product.id, { deliveryAddress: { lat: -22.9, lng: -43.2 } })),
			await post(orderBody(supplier.id, "no-such-product")),
			await post(orderBody(supplier.id, product.id, { items: [{ productId: product.id, quantity: 5 }] })),
			await post(
				orderBody(supplier.id, product.id, {
					scheduledSlot: { from: "2020-01-01T10:00:00Z", to: "2020-01-01T11:00:00Z" },
				}),
			),
			await post(orderBody(supplier.id, product.id), supplier.token),
			await post(orderBody(customer.id, product.id)),
		];
		expect(cases.map((r) => r.status)).toEqual([422, 422, 422, 422, 422, 422, 422, 409, 422, 403, 409]);
		expect(cases[5].body.type).toBe("OUT_OF_DELIVERY_AREA");
		expect(cases[7].body.type).toBe("OUT_OF_STOCK");
		expect(await stockOf(product.id)).toBe(4);
		expect((await m.api.get("/api/orders?withTotal=true", { token: customer.token })).body.total).toBe(0);
	});
});

describe("order lists and views", () => {
	it("lists orders by role with filters and paging, and names the customer for the supplier", async () => {
		const supplier = await createSupplier(m);
		const other = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 20 });
		const otherProduct = await createProduct(m, other.token, { stock: 20 });
		const customer = await createCustomer(m);
		const ids: string[] = [];
		for (let i = 0; i < 3; i++)
			ids.push(
				(await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token })).body.id,
			);
		const declined = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: CARDS.declined }),
			{ token: customer.token },
		);
		await m.api.post("/api/orders", orderBody(other.id, otherProduct.id), { token: customer.token });
		await waitForStatus(m, declined.body.id, customer.token, "cancelled");
		for (const id of ids) await waitForStatus(m, id, customer.token, "confirmed");

		const theirs = (await m.api.get("/api/orders?pageSize=2&withTotal=true", { token: supplier.token })).body;
		expect(theirs.total).toBe(4);
		expect(theirs.rows).toHaveLength(2);
		expect(theirs.rows[0]).toMatchObject({ supplierId: supplier.id, customerName: "Maria Cliente" });
		expect(theirs.rows[0]).not.toHaveProperty("handoverCode");
		const page2 = (await m.api.get("/api/orders?pageSize=2&page=2", { token: supplier.token })).body;
		expect(new Set([...theirs.rows, ...page2.rows].map((o: any) => o.id)).size).toBe(4);
		const cancelled = (await m.api.get("/api/orders?status=cancelled", { token: supplier.token })).body;
		expect(cancelled.rows.map((o: any) => o.id)).toEqual([declined.body.id]);
		const future = (
			await m.api.get(`/api/orders?withTotal=true&from=${encodeURIComponent("2999-01-01T00:00:00Z")}`, {
				token: supplier.token,
			})
		).body;
		expect(future.total).toBe(0);
		expect((await m.api.get("/api/orders?withTotal=true", { token: customer.token })).body.total).toBe(5);
		const admin = await adminToken(m.api);
		expect((await m.api.get(`/api/orders?supplierId=${other.id}&withTotal=true`, { token: admin })).body.total).toBe(1);
		expect((await m.api.get("/api/orders?pageSize=101", { token: admin })).status).toBe(422);
		expect((await m.api.get("/api/orders?status=lost", { token: admin })).status).toBe(422);
		for (const field of ["from", "to"]) {
			const bad = await m.api.get(`/api/orders?${field}=${encodeURIComponent("2024-99-99T99:99Z")}`, {
				token: admin,
			});
			expect(bad.status).toBe(422);
			expect(bad.body.data.fields).toEqual([{ field, type: "UNPROCESSABLE", message: expect.any(String) }]);
		}
		const both = await m.api.get(`/api/orders?from=2024-01-01T25:00Z&to=2024-13-01T10:00Z`, { token: admin });
		expect(both.status).toBe(422);
		expect(both.body.data.fields.map((f: { field: string }) => f.field)).toEqual(["from", "to"]);
		expect((await m.api.get("/api/orders/nope", { token: admin })).status).toBe(404);
	});

	it("promises a scheduled order by the end of its slot", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const from = new Date(Date.now() + 2 * 3600_000);
		const to = new Date(from.getTime() + 2 * 3600_000);
		const slot = { from: from.toISOString(), to: to.toISOString() };
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { scheduledSlot: slot }), {
			token: customer.token,
		});
		expect(res.status).toBe(201);
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const event = m.events.ofType("order.confirmed").find((e) => e.data.orderId === res.body.id);
		expect(event.data.promisedBy).toBe(to.toISOString());
	});
});

describe("admin refunds with MFA on", () => {
	it("needs an MFA-verified token once the admin has enabled MFA", async () => {
		const { currentTotp } = require("../../lib/infra/totp");
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		const plain = await adminToken(m.api);
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: plain })).body.rows[0];

		const setup = await m.api.post("/api/auth/mfa/setup", {}, { token: plain });
		const enabled = await m.api.post(
			"/api/auth/mfa/enable",
			{ code: currentTotp(setup.body.secret) },
			{ token: plain },
		);
		expect(enabled.status).toBe(200);
		const refund = (token: string) =>
			m.api.post(`/api/payments/${payment.id}/refund`, { amountCents: 100, reason: "test" }, { token });
		const without = await refund(plain);
		expect(without.status).toBe(403);
		expect(without.body.type).toBe("MFA_REQUIRED");
		const withMfa = await refund(enabled.body.token);
		expect(withMfa.status).toBe(200);
		expect(withMfa.body.refundedCents).toBe(100);
	});
});
