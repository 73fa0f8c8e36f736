/**
 * Checkout as the web app does it, through the gateway: the card form tokenized by the payment
 * provider (POST /api/payments/card-tokens; the simulated provider's test cards still behave as
 * before), cash with change ("troco para"), the address in words with district and CEP, closed
 * suppliers listed apart with their next opening and ordered for a scheduled slot, and a declined
 * payment paid again by PIX within the retry window instead of a cancelled order.
 */
import { waitFor } from "../helpers/broker";
import {
	CARDS,
	createCustomer,
	createProduct,
	createSupplier,
	HOME,
	localHhmm,
	Market,
	orderBody,
	startMarket,
	waitForStatus,
} from "../helpers/market";

const nextYear = new Date().getUTCFullYear() + 1;

describe("checkout", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket({ PAYMENT_RETRY_GRACE_MS: "60000" });
	});
	afterAll(() => m.stop());

	test("a card is tokenized by the provider; the token pays, the number is never stored", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const card = { number: "4242 4242 4242 4242", expMonth: 12, expYear: nextYear, cvc: "123", holder: "MARIA C" };
		const tok = await m.api.post("/api/payments/card-tokens", card, { token: customer.token });
		expect(tok.status).toBe(200);
		expect(tok.body).toEqual({ token: expect.stringMatching(/^tok_sim_/), brand: "visa", last4: "4242" });
		expect(tok.body.token).not.toContain("4242");

		const order = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: tok.body.token }),
			{ token: customer.token },
		);
		expect(order.status).toBe(201);
		await waitForStatus(m, order.body.id, customer.token, "confirmed");
		const payments = await m.api.get(`/api/payments?orderId=${order.body.id}`, { token: customer.token });
		expect(JSON.stringify(payments.body)).not.toContain("4242424242424242");

		// Only customers tokenize cards; a signed-out caller is refused.
		expect((await m.api.post("/api/payments/card-tokens", card)).status).toBe(401);
		expect((await m.api.post("/api/payments/card-tokens", card, { token: supplier.token })).status).toBe(403);
	});

	test("the provider refuses a wrong number, an expired card and a bad security code, naming the field", async () => {
		const customer = await createCustomer(m);
		const base = { number: "4242424242424242", expMonth: 12, expYear: nextYear, cvc: "123" };
		const wrong = await m.api.post(
			"/api/payments/card-tokens",
			{ ...base, number: "4242424242424241" },
			{ token: customer.token },
		);
		expect(wrong.status).toBe(422);
		expect(wrong.body.data).toMatchObject({
			reason: "invalid_number",
			fields: [expect.objectContaining({ field: "number" })],
		});
		const expired = await m.api.post(
			"/api/payments/card-tokens",
			{ ...base, expYear: 2020 },
			{ token: customer.token },
		);
		expect(expired.body.data).toMatchObject({
			reason: "expired",
			fields: [expect.objectContaining({ field: "expiry" })],
		});
		const cvc = await m.api.post("/api/payments/card-tokens", { ...base, cvc: "12" }, { token: customer.token });
		expect(cvc.status).toBe(422);
		const amexCvc = await m.api.post(
			"/api/payments/card-tokens",
			{ ...base, number: "378282246310005", cvc: "123" },
			{ token: customer.token },
		);
		expect(amexCvc.body.data).toMatchObject({
			reason: "invalid_cvc",
			fields: [expect.objectContaining({ field: "cvc" })],
		});
		expect(
			(await m.api.post("/api/payments/card-tokens", { ...base, number: "abc" }, { token: customer.token })).status,
		).toBe(422);
	});

	test("cash with change: stored on the order; refused with a card or below the total (stock not held)", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const customer = await createCustomer(m);
		const address = {
			street: "Praça da Sé",
			number: "1",
			district: "Sé",
			city: "São Paulo",
			state: "São Paulo",
			postcode: "01001-000",
			...HOME,
		};
		const cash = { paymentMethod: "cash", paymentToken: undefined, deliveryAddress: address };
		const ok = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { ...cash, changeForCents: 20000 }), {
			token: customer.token,
		});
		expect(ok.status).toBe(201);
		const stored = (await m.api.get(`/api/orders/${ok.body.id}`, { token: supplier.token })).body;
		expect(stored.changeForCents).toBe(20000);
		expect(stored.deliveryAddress).toMatchObject({ district: "Sé", postcode: "01001-000", state: "São Paulo" });

		const before = (await m.api.get(`/api/products/${product.id}`)).body;
		const withCard = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { changeForCents: 20000 }), {
			token: customer.token,
		});
		expect(withCard.status).toBe(422);
		const tooSmall = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { ...cash, changeForCents: 5000 }),
			{
				token: customer.token,
			},
		);
		expect(tooSmall.status).toBe(422);
		expect(tooSmall.body.data.fields).toEqual([expect.objectContaining({ field: "changeForCents" })]);
		const after = (await m.api.get(`/api/products/${product.id}`)).body;
		expect({ stock: after.stock, reserved: after.reserved }).toEqual({
			stock: before.stock,
			reserved: before.reserved,
		});
	});

	test("a closed supplier is listed apart (openNow=false) with its next opening, and takes a scheduled order", async () => {
		const supplier = await createSupplier(m, {
			businessName: "Gás Noturno",
			openingHours: { open: localHhmm(2), close: localHhmm(5) },
		});
		const product = await createProduct(m, supplier.token, { stock: 4 });
		const customer = await createCustomer(m);
		const q = `/api/products?lat=${HOME.lat}&lng=${HOME.lng}&supplierId=${supplier.id}`;
		expect((await m.api.get(q)).body.rows).toEqual([]);
		const all = (await m.api.get(`${q}&openNow=false`)).body.rows;
		expect(all).toHaveLength(1);
		expect(all[0].openNow).toBe(false);
		const opens = Date.parse(all[0].nextOpeningAt);
		expect(Math.abs(opens - (Date.now() + 2 * 3600_000))).toBeLessThan(2 * 60_000);

		const from = new Date(opens + 30 * 60_000);
		const slot = { from: from.toISOString(), to: new Date(from.getTime() + 3600_000).toISOString() };
		const order = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { scheduledSlot: slot }), {
			token: customer.token,
		});
		expect(order.status).toBe(201);
		expect(order.body.scheduledSlot).toEqual(slot);
	});

	test("after a decline the order stays open and is paid again by PIX within the window", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 3 });
		const customer = await createCustomer(m);
		const order = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: CARDS.declined }),
			{ token: customer.token },
		);
		const id = order.body.id;
		await waitFor(
			async () => (await m.api.get(`/api/orders/${id}`, { token: customer.token })).body.paymentStatus === "failed",
		);
		const open = (await m.api.get(`/api/orders/${id}`, { token: customer.token })).body;
		expect(open).toMatchObject({ status: "created", paymentFailure: "card_declined" });
		expect(Date.parse(open.paymentRetryUntil)).toBeGreaterThan(Date.now());

		const pix = await m.api.post("/api/payments", { orderId: id, method: "pix" }, { token: customer.token });
		expect(pix.status).toBe(200);
		expect(pix.body).toMatchObject({ status: "pending", method: "pix", pixCode: expect.any(String) });
		// The order now waits for the PIX, not for the retry window: paymentStatus follows it.
		await waitFor(
			async () => (await m.api.get(`/api/orders/${id}`, { token: customer.token })).body.paymentStatus === "pending",
		);
		await m.broker.call("payments.confirmPix", { paymentId: pix.body.id });
		await waitForStatus(m, id, customer.token, "confirmed");
		// The order names the method that paid it, not the declined card first chosen.
		const paid = (await m.api.get(`/api/orders/${id}`, { token: customer.token })).body;
		expect(paid).toMatchObject({ paymentMethod: "pix", paymentStatus: "captured" });
	});
});
