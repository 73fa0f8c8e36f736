/**
 * An order's life after payment, through the gateway: courier assignment, in transit, delivery with
 * the handover code (stock committed), cash on delivery captured at delivery, PIX confirmed later;
 * the catalog's write rules and cache. (Reconciliation of orders against payments: test/service/payments.test.ts.)
 */
import { ServiceBroker } from "moleculer";
import {
	adminToken,
	CARDS,
	createCustomer,
	createProduct,
	createSupplier,
	HOME,
	login,
	Market,
	orderBody,
	startMarket,
	waitForStatus,
	localHhmm,
} from "../helpers/market";
import { waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { makeEnvelope } from "../../lib/infra/envelopes";

jest.setTimeout(30000);

let m: Market;
beforeAll(async () => {
	m = await startMarket();
});
afterAll(async () => {
	await m.stop();
});

async function createCourier() {
	const email = `courier-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}@test.local`;
	const user: any = await m.broker.call("users.create", {
		email,
		password: "courier-pass-1",
		name: "Zé Entregador",
		role: "courier",
	});
	return { id: user.id as string, token: await login(m.api, email, "courier-pass-1") };
}

function publish(type: string, data: Record<string, unknown>) {
	return (m.broker as any).sendToChannel(channelName("order.events"), makeEnvelope(type, data, "system", null));
}

async function confirmedOrder(extra: Record<string, unknown> = {}, stock = 10) {
	const supplier = await createSupplier(m);
	const product = await createProduct(m, supplier.token, { stock });
	const customer = await createCustomer(m);
	const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id, extra), { token: customer.token });
	expect(res.status).toBe(201);
	await waitForStatus(m, res.body.id, customer.token, "confirmed");
	return { supplier, product, customer, order: res.body };
}

const stockOf = async (id: string) => (await m.api.get(`/api/products/${id}`)).body;

describe("delivery", () => {
	it("goes confirmed → in_transit → delivered by the assigned courier with the customer's handover code", async () => {
		const { product, customer, order } = await confirmedOrder();
		const courier = await createCourier();
		const stranger = await createCourier();
		const put = (body: any, token: string) => m.api.put(`/api/orders/${order.id}/status`, body, { token });

		// Before assignment the courier cannot even see it.
		expect((await m.api.get(`/api/orders/${order.id}`, { token: courier.token })).status).toBe(403);
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 12 });
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 12 }); // redelivered
		const seen = await waitFor(async () => {
			const r = await m.api.get(`/api/orders/${order.id}`, { token: courier.token });
			return r.status === 200 && r.body;
		});
		expect(seen.courierId).toBe(courier.id);
		expect(seen).not.toHaveProperty("handoverCode");
		expect(seen.history.filter((h: any) => h.note === "courier assigned")).toHaveLength(1);
		expect((await m.api.get("/api/orders", { token: courier.token })).body.rows.map((o: any) => o.id)).toEqual([
			order.id,
		]);

		expect((await put({ status: "in_transit" }, stranger.token)).status).toBe(403);
		expect((await put({ status: "delivered", handoverCode: order.handoverCode }, courier.token)).status).toBe(409);
		expect((await put({ status: "in_transit" }, courier.token)).body.status).toBe("in_transit");

		const wrongCode = order.handoverCode === "0000" ? "1111" : "0000";
		const wrong = await put({ status: "delivered", handoverCode: wrongCode }, courier.token);
		expect(wrong.status).toBe(422);
		expect(wrong.body.type).toBe("WRONG_HANDOVER_CODE");
		expect((await put({ status: "delivered" }, courier.token)).body.type).toBe("HANDOVER_CODE_REQUIRED");
		expect((await m.api.get(`/api/orders/${order.id}`, { token: customer.token })).body.status).toBe("in_transit");
		expect((await put({ status: "cancelled" }, customer.token)).status).toBe(409);

		const delivered = await put({ status: "delivered", handoverCode: order.handoverCode }, courier.token);
		expect(delivered.status).toBe(200);
		expect(delivered.body.status).toBe("delivered");
		expect(delivered.body.history.map((h: any) => h.status)).toEqual([
			"created",
			"confirmed",
			"confirmed",
			"in_transit",
			"delivered",
		]);
		const p = await waitFor(async () => {
			const s = await stockOf(product.id);
			return s.reserved === 0 && s;
		});
		expect(p.stock).toBe(9);
		const event = await waitFor(() => m.events.ofType("order.delivered").find((e) => e.data.orderId === order.id));
		expect(event.data).toMatchObject({
			courierId: courier.id,
			confirmedAt: expect.any(String),
			deliveredAt: expect.any(String),
		});
		expect(m.events.ofType("order.in_transit").find((e) => e.data.orderId === order.id).data.courierId).toBe(
			courier.id,
		);
	});

	it("locks the courier out after 5 wrong handover codes, even concurrent ones; an admin delivers", async () => {
		const { customer, order } = await confirmedOrder();
		expect(order.handoverCode).toMatch(/^\d{6}$/);
		const courier = await createCourier();
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 5 });
		await waitFor(async () => (await m.api.get(`/api/orders/${order.id}`, { token: courier.token })).status === 200);
		const put = (body: any, token = courier.token) => m.api.put(`/api/orders/${order.id}/status`, body, { token });
		expect((await put({ status: "in_transit" })).status).toBe(200);
		const wrong = (i: number) => String((Number(order.handoverCode) + 1 + i) % 1_000_000).padStart(6, "0");

		const first = await put({ status: "delivered", handoverCode: wrong(0) });
		expect(first.status).toBe(422);
		expect(first.body).toMatchObject({ type: "WRONG_HANDOVER_CODE", data: { attemptsLeft: 4 } });
		// A burst of guesses cannot get past the limit: exactly the 4 attempts left are judged.
		const burst = await Promise.all(
			Array.from({ length: 10 }, (_, i) => put({ status: "delivered", handoverCode: wrong(i + 1) })),
		);
		expect(burst.filter((r) => r.status === 422)).toHaveLength(4);
		expect(burst.filter((r) => r.status === 423).map((r) => r.body.type)).toEqual(Array(6).fill("HANDOVER_LOCKED"));
		// Now even the right code is refused to the courier; nothing moved, nothing was published.
		const right = await put({ status: "delivered", handoverCode: order.handoverCode });
		expect(right.status).toBe(423);
		expect(right.body.type).toBe("HANDOVER_LOCKED");
		const seen = (await m.api.get(`/api/orders/${order.id}`, { token: customer.token })).body;
		expect(seen.status).toBe("in_transit");
		expect(seen.handoverFailures).toBe(5);
		expect(m.events.ofType("order.delivered").filter((e) => e.data.orderId === order.id)).toHaveLength(0);

		const admin = await adminToken(m.api);
		const delivered = await put({ status: "delivered" }, admin);
		expect(delivered.status).toBe(200);
		expect(delivered.body.status).toBe("delivered");
		await waitFor(() => m.events.ofType("order.delivered").find((e) => e.data.orderId === order.id));
	});

	it("does not count the right code as a failure", async () => {
		const { order } = await confirmedOrder();
		const courier = await createCourier();
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 5 });
		await waitFor(async () => (await m.api.get(`/api/orders/${order.id}`, { token: courier.token })).status === 200);
		const put = (body: any) => m.api.put(`/api/orders/${order.id}/status`, body, { token: courier.token });
		await put({ status: "in_transit" });
		const bad = order.handoverCode === "000000" ? "111111" : "000000";
		for (let i = 0; i < 4; i++) expect((await put({ status: "delivered", handoverCode: bad })).status).toBe(422);
		const ok = await put({ status: "delivered", handoverCode: order.handoverCode });
		expect(ok.status).toBe(200);
		expect(ok.body).toMatchObject({ status: "delivered", handoverFailures: 4 });
	});

	it("shows the courier's position and ETA from couriers, and still answers when couriers is slow or absent", async () => {
		const { customer, order } = await confirmedOrder();
		const courier = await createCourier();
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 7 });
		await waitFor(async () => (await m.api.get(`/api/orders/${order.id}`, { token: courier.token })).status === 200);

		const absent = await m.api.get(`/api/orders/${order.id}`, { token: customer.token });
		expect(absent.status).toBe(200);
		expect(absent.body.courier).toBeNull();

		let slow = false;
		const fake = m.broker.createService({
			name: "couriers",
			actions: {
				async eta(ctx: any) {
					if (slow) await new Promise((r) => setTimeout(r, 800));
					return {
						position: { lat: -23.555, lng: -46.635, at: new Date().toISOString() },
						etaMinutes: 4,
						to: ctx.params.to,
					};
				},
			},
		});
		await (m.broker as ServiceBroker).waitForServices("couriers");
		try {
			const live = await m.api.get(`/api/orders/${order.id}`, { token: customer.token });
			expect(live.body.courier).toMatchObject({ etaMinutes: 4, to: HOME });
			slow = true;
			const started = Date.now();
			const timedOut = await m.api.get(`/api/orders/${order.id}`, { token: customer.token });
			expect(timedOut.status).toBe(200);
			expect(timedOut.body.courier).toBeNull();
			expect(Date.now() - started).toBeLessThan(1500);
		} finally {
			await m.broker.destroyService(fake);
		}
	});

	it("captures cash on delivery at delivery time", async () => {
		const { order, customer } = await confirmedOrder({ paymentMethod: "cash", paymentToken: undefined });
		const admin = await adminToken(m.api);
		const before = (await m.api.get(`/api/payments?orderId=${order.id}`, { token: customer.token })).body.rows[0];
		expect(before).toMatchObject({ method: "cash", status: "authorized", capturedCents: 0 });
		expect((await m.api.put(`/api/orders/${order.id}/status`, { status: "in_transit" }, { token: admin })).status).toBe(
			200,
		);
		expect((await m.api.put(`/api/orders/${order.id}/status`, { status: "delivered" }, { token: admin })).status).toBe(
			200,
		);
		const after = await waitFor(async () => {
			const p = (await m.api.get(`/api/payments?orderId=${order.id}`, { token: customer.token })).body.rows[0];
			return p.status === "captured" && p;
		});
		expect(after.capturedCents).toBe(order.totalCents);
		expect(after.transactions.map((t: any) => t.kind)).toEqual(["charge", "capture"]);
	});

	it("lets a supplier cancel with a reason, and voids a cash authorization", async () => {
		const { order, supplier, customer } = await confirmedOrder({ paymentMethod: "cash", paymentToken: undefined });
		const put = (body: any) => m.api.put(`/api/orders/${order.id}/status`, body, { token: supplier.token });
		expect((await put({ status: "cancelled" })).status).toBe(422);
		expect((await put({ status: "confirmed" })).status).toBe(409);
		const res = await put({ status: "cancelled", reason: "truck broke down" });
		expect(res.body).toMatchObject({ status: "cancelled", cancelReason: "truck broke down", wasPaid: false });
		const payment = await waitFor(async () => {
			const p = (await m.api.get(`/api/payments?orderId=${order.id}`, { token: customer.token })).body.rows[0];
			return p.status === "voided" && p;
		});
		expect(payment.refundedCents).toBe(0);
	});
});

describe("the supplier's preparation and handover", () => {
	const ofOrder = (type: string, orderId: string) => m.events.ofType(type).filter((e) => e.data.orderId === orderId);

	it("accepts, prepares and readies a confirmed order, forward only, recorded and announced; others are refused", async () => {
		const { supplier, customer, order } = await confirmedOrder();
		const other = await createSupplier(m);
		const prepare = (stage: string, token = supplier.token) =>
			m.api.put(`/api/orders/${order.id}/preparation`, { stage }, { token });

		expect((await prepare("accepted", customer.token)).status).toBe(403);
		const foreign = await prepare("accepted", other.token);
		expect(foreign.status).toBe(403);
		expect(foreign.body.type).toBe("FORBIDDEN");
		expect((await prepare("started")).status).toBe(422);

		const accepted = await prepare("accepted");
		expect(accepted.status).toBe(200);
		expect(accepted.body).toMatchObject({
			status: "confirmed",
			preparation: "accepted",
			acceptedAt: expect.any(String),
		});
		const again = await prepare("accepted");
		expect(again.status).toBe(200);
		expect(again.body.history.filter((h: any) => h.stage === "accepted")).toHaveLength(1);
		expect((await prepare("preparing")).body.preparation).toBe("preparing");
		const back = await prepare("accepted");
		expect(back.status).toBe(409);
		expect(back.body).toMatchObject({ type: "INVALID_TRANSITION", message: "O preparo só avança" });
		const ready = await prepare("ready");
		expect(ready.body).toMatchObject({ status: "confirmed", preparation: "ready", readyAt: expect.any(String) });

		const seen = (
			await m.api.get(`/api/orders/${order.id}`, { token: customer.token, headers: { "Accept-Language": "en" } })
		).body;
		expect(seen.preparation).toBe("ready");
		expect(
			seen.history.filter((h: any) => h.stage).map((h: any) => [h.stage, h.status, h.by, h.role, h.label]),
		).toEqual([
			["accepted", "confirmed", supplier.id, "supplier", "Accepted by the supplier"],
			["preparing", "confirmed", supplier.id, "supplier", "Being prepared"],
			["ready", "confirmed", supplier.id, "supplier", "Ready for the courier"],
		]);
		await waitFor(() => ofOrder("order.preparation", order.id).length === 3);
		expect(ofOrder("order.preparation", order.id).map((e) => [e.data.stage, e.actor, e.data.customerId])).toEqual([
			["accepted", supplier.id, customer.id],
			["preparing", supplier.id, customer.id],
			["ready", supplier.id, customer.id],
		]);
	});

	it("refuses a stage on an order that is not confirmed (409)", async () => {
		const { supplier, order } = await confirmedOrder();
		const cancel = { status: "cancelled", reason: "sem estoque" };
		expect((await m.api.put(`/api/orders/${order.id}/status`, cancel, { token: supplier.token })).status).toBe(200);
		const late = await m.api.put(
			`/api/orders/${order.id}/preparation`,
			{ stage: "accepted" },
			{ token: supplier.token },
		);
		expect(late.status).toBe(409);
		expect(late.body).toMatchObject({ type: "INVALID_TRANSITION", data: { status: "cancelled" } });
		expect(ofOrder("order.preparation", order.id)).toHaveLength(0);
	});

	it("lets the supplier hand the order to its assigned courier, and not before one is assigned", async () => {
		const { supplier, customer, order } = await confirmedOrder();
		const handOver = (token = supplier.token) =>
			m.api.put(`/api/orders/${order.id}/status`, { status: "in_transit" }, { token });
		const early = await handOver();
		expect(early.status).toBe(409);
		expect(early.body).toMatchObject({
			type: "INVALID_TRANSITION",
			message: "O pedido ainda não tem entregador para recebê-lo",
		});
		expect((await m.api.get(`/api/orders/${order.id}`, { token: customer.token })).body.status).toBe("confirmed");

		const courier = await createCourier();
		await publish("courier.assigned", { orderId: order.id, courierId: courier.id, etaMinutes: 6 });
		await waitFor(async () => (await m.api.get(`/api/orders/${order.id}`, { token: courier.token })).status === 200);
		expect((await handOver(customer.token)).status).toBe(403);
		expect((await handOver((await createSupplier(m)).token)).status).toBe(403);
		const moved = await handOver();
		expect(moved.status).toBe(200);
		expect(moved.body.status).toBe("in_transit");
		expect(moved.body.history[moved.body.history.length - 1]).toMatchObject({
			status: "in_transit",
			by: supplier.id,
			role: "supplier",
		});
		await waitFor(() => ofOrder("order.in_transit", order.id).length === 1);
		expect(ofOrder("order.in_transit", order.id)[0].data.courierId).toBe(courier.id);
		// Handed over: the preparation is over, and the courier delivers with the customer's code.
		const prepare = { stage: "ready" };
		expect((await m.api.put(`/api/orders/${order.id}/preparation`, prepare, { token: supplier.token })).status).toBe(
			409,
		);
		const put = (body: object) => m.api.put(`/api/orders/${order.id}/status`, body, { token: courier.token });
		expect((await put({ status: "delivered", handoverCode: order.handoverCode })).body.status).toBe("delivered");
	});
});

describe("PIX", () => {
	it("is pending with a copy-paste code until the transfer arrives, then confirms the order", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentMethod: "pix", paymentToken: undefined }),
			{
				token: customer.token,
			},
		);
		const pending = await waitFor(async () => {
			const p = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
			return p && p.status === "pending" && p;
		});
		expect(pending.pixCode).toMatch(/^000201/);
		expect((await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body.status).toBe("created");
		// Paying again by PIX changes nothing; the transfer arrives.
		expect((await m.api.post("/api/payments", { orderId: res.body.id }, { token: customer.token })).status).toBe(409);
		await m.broker.call("payments.confirmPix", { paymentId: pending.id });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		await expect(m.broker.call("payments.confirmPix", { paymentId: pending.id })).rejects.toMatchObject({ code: 409 });
	});

	it("lets the customer pay a pending PIX order by card instead", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const other = await createCustomer(m);
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentMethod: "pix", paymentToken: undefined }),
			{
				token: customer.token,
			},
		);
		await waitFor(
			async () =>
				(await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0]?.status ===
				"pending",
		);
		const body = { orderId: res.body.id, method: "card", paymentToken: "4242424242424242" };
		expect((await m.api.post("/api/payments", body, { token: other.token })).status).toBe(403);
		expect(
			(await m.api.post("/api/payments", { ...body, paymentToken: undefined }, { token: customer.token })).status,
		).toBe(422);
		const paid = await m.api.post("/api/payments", body, { token: customer.token });
		expect(paid.status).toBe(200);
		expect(paid.body).toMatchObject({ status: "captured", method: "card", attempts: 2 });
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		expect((await m.api.post("/api/payments", body, { token: customer.token })).status).toBe(409);
	});
});

describe("paying again", () => {
	// Before the decline has cancelled the order (the order still `created`): test/service/payments.test.ts.
	it("does not charge a failed payment again once the decline has cancelled the order", async () => {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: "4000000000000002" }),
			{
				token: customer.token,
			},
		);
		await waitForStatus(m, res.body.id, customer.token, "cancelled");
		const body = { orderId: res.body.id, method: "card", paymentToken: "4242424242424242" };
		const retry = await m.api.post("/api/payments", body, { token: customer.token });
		expect(retry.status).toBe(409);
		expect(retry.body.data).toMatchObject({ status: "cancelled" });
		const payment = (await m.api.get(`/api/payments?orderId=${res.body.id}`, { token: customer.token })).body.rows[0];
		expect(payment).toMatchObject({ status: "failed", attempts: 1 });
	});
});

describe("catalog management", () => {
	it("lets only an active supplier (or an admin) write its own catalog", async () => {
		const supplier = await createSupplier(m);
		const other = await createSupplier(m);
		const customer = await createCustomer(m);
		const admin = await adminToken(m.api);
		const pendingEmail = `pending-${Date.now()}@test.local`;
		await m.broker.call("users.create", {
			email: pendingEmail,
			password: "supplier-pass-1",
			name: "Pendente",
			role: "supplier",
			status: "pending_verification",
		});
		const pending = await login(m.api, pendingEmail, "supplier-pass-1");
		const body = { type: "P45", priceCents: 40000, depositCents: 50000, stock: 3 };

		expect((await m.api.post("/api/products", body)).status).toBe(401);
		expect((await m.api.post("/api/products", body, { token: customer.token })).status).toBe(403);
		const notActive = await m.api.post("/api/products", body, { token: pending });
		expect(notActive.status).toBe(409);
		expect(notActive.body.type).toBe("SUPPLIER_NOT_ACTIVE");
		expect((await m.api.post("/api/products", { ...body, type: "P99" }, { token: supplier.token })).status).toBe(422);
		expect((await m.api.post("/api/products", { ...body, priceCents: -1 }, { token: supplier.token })).status).toBe(
			422,
		);
		expect((await m.api.post("/api/products", { ...body, discount: 5 }, { token: supplier.token })).status).toBe(422);
		expect(
			(await m.api.post("/api/products", { ...body, supplierId: other.id }, { token: supplier.token })).status,
		).toBe(403);

		const created = await m.api.post("/api/products", body, { token: supplier.token });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ supplierId: supplier.id, priceWithoutExchangeCents: 90000, stock: 3 });
		expect((await m.api.post("/api/products", body, { token: supplier.token })).status).toBe(409);
		const byAdmin = await m.api.post("/api/products", { ...body, supplierId: other.id }, { token: admin });
		expect(byAdmin.status).toBe(201);
		expect(byAdmin.body.supplierId).toBe(other.id);

		const put = (token: string, change: any) => m.api.put(`/api/products/${created.body.id}`, change, { token });
		expect((await put(other.token, { priceCents: 1 })).status).toBe(403);
		expect((await put(supplier.token, {})).status).toBe(422);
		expect((await put(supplier.token, { type: "P13" })).status).toBe(422);
		expect((await m.api.get(`/api/products/${created.body.id}`)).body.priceCents).toBe(40000);

		// The public list is cached; a change shows at once.
		const list = () => m.api.get(`/api/products?type=P45&supplierId=${supplier.id}`);
		expect((await list()).body.rows[0].priceCents).toBe(40000);
		const updated = await put(supplier.token, { priceCents: 39000, stock: 7 });
		expect(updated.body).toMatchObject({ priceCents: 39000, stock: 7 });
		expect((await list()).body.rows[0]).toMatchObject({ priceCents: 39000, stock: 7 });
		const restock = await waitFor(() =>
			m.events.ofType("inventory.updated").find((e) => e.data.productId === created.body.id),
		);
		expect(restock.data).toMatchObject({ reason: "restocked", change: 4, stock: 7 });
		expect(m.events.ofType("product.updated").find((e) => e.data.productId === created.body.id).data.priceCents).toBe(
			39000,
		);

		const removed = await m.api.del(`/api/products/${created.body.id}`, { token: supplier.token });
		expect(removed.status).toBe(200);
		expect((await list()).body.rows).toEqual([]);
		expect((await m.api.get(`/api/products/${created.body.id}`)).status).toBe(404);
		await waitFor(() => m.events.ofType("product.deleted").find((e) => e.data.productId === created.body.id));
	});

	it("leaves closed suppliers out of the comparison and validates the filters", async () => {
		const now = new Date();
		const local = new Intl.DateTimeFormat("en-GB", {
			timeZone: "America/Sao_Paulo",
			hour: "2-digit",
			hourCycle: "h23",
		}).format(now);
		const h = (n: number) => String((Number(local) + n + 24) % 24).padStart(2, "0") + ":00";
		const closed = await createSupplier(m, { openingHours: { open: h(2), close: h(3) } });
		const product = await createProduct(m, closed.token, { type: "P20", priceCents: 100 });
		const at = `lat=${HOME.lat}&lng=${HOME.lng}`;
		const openNow = await m.api.get(`/api/products?type=P20&${at}`);
		expect(openNow.body.rows.map((r: any) => r.id)).not.toContain(product.id);
		const anyTime = await m.api.get(`/api/products?type=P20&${at}&openNow=false`);
		expect(anyTime.body.rows.map((r: any) => r.id)).toContain(product.id);
		expect((await m.api.get(`/api/products?lat=${HOME.lat}`)).status).toBe(422);
		expect((await m.api.get(`/api/products?sort=distance`)).status).toBe(422);
		expect((await m.api.get(`/api/products?pageSize=1000`)).status).toBe(422);
		expect((await m.api.get(`/api/products?color=red`)).status).toBe(422);
		// Params are validated before the cache answers: 422 cold and warm alike.
		expect((await m.api.get(`/api/products?type=P2&query={}`)).status).toBe(422);
		expect((await m.api.get(`/api/products?type=P2`)).status).toBe(200);
		expect((await m.api.get(`/api/products?type=P2&query={}`)).status).toBe(422);
	});
});

describe("paying again after a failed payment (PAYMENT_RETRY_GRACE_MS)", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket({ PAYMENT_RETRY_GRACE_MS: "600" });
	});
	afterAll(() => m.stop());

	/** A fresh supplier (3 in stock) and customer, and an order paid with a card that is declined. */
	async function declinedOrder() {
		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token, { stock: 3 });
		const customer = await createCustomer(m);
		const order = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { paymentToken: CARDS.declined }),
			{
				token: customer.token,
			},
		);
		return { product, customer, order };
	}

	it("keeps a declined order open for the window: paying with another card confirms it", async () => {
		const { product, customer, order } = await declinedOrder();
		expect(order.status).toBe(201);
		await waitFor(
			async () =>
				(await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token })).body.paymentStatus === "failed",
		);
		const open = (await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token })).body;
		expect(open.status).toBe("created");
		expect(Date.parse(open.paymentRetryUntil)).toBeGreaterThan(Date.now());

		const retry = await m.api.post(
			"/api/payments",
			{ orderId: order.body.id, paymentToken: CARDS.success },
			{ token: customer.token },
		);
		expect(retry.status).toBe(200);
		await waitForStatus(m, order.body.id, customer.token, "confirmed");
		await new Promise((r) => setTimeout(r, 800)); // past the window: the confirmed order stays confirmed
		expect((await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token })).body.status).toBe("confirmed");
		expect((await m.api.get(`/api/products/${product.id}`)).body.stock).toBe(2);
	});

	it("cancels the order and releases the stock when nobody pays within the window", async () => {
		const { product, customer, order } = await declinedOrder();
		await waitForStatus(m, order.body.id, customer.token, "cancelled");
		const cancelled = (await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token })).body;
		expect(cancelled.history.at(-1).reason).toMatch(/^payment_failed: card_declined/);
		expect((await m.api.get(`/api/products/${product.id}`)).body).toMatchObject({ stock: 3, reserved: 0 });
		const late = await m.api.post(
			"/api/payments",
			{ orderId: order.body.id, paymentToken: CARDS.success },
			{ token: customer.token },
		);
		expect(late.status).toBe(409);
	});
});

describe("opening hours at order time", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket({});
	});
	afterAll(() => m.stop());

	it("refuses an immediate order from a closed supplier (409 SUPPLIER_CLOSED, stock untouched) and takes one scheduled inside its hours", async () => {
		const supplier = await createSupplier(m, { openingHours: { open: localHhmm(2), close: localHhmm(5) } });
		const product = await createProduct(m, supplier.token, { stock: 4 });
		const customer = await createCustomer(m);
		const now = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		expect(now.status).toBe(409);
		expect(now.body.type).toBe("SUPPLIER_CLOSED");
		expect((await m.api.get(`/api/products/${product.id}`)).body).toMatchObject({ stock: 4, reserved: 0 });

		const from = new Date(Date.now() + 3 * 3600_000);
		const slot = { from: from.toISOString(), to: new Date(from.getTime() + 3600_000).toISOString() };
		const later = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { scheduledSlot: slot }), {
			token: customer.token,
		});
		expect(later.status).toBe(201);
		await waitForStatus(m, later.body.id, customer.token, "confirmed");
	});
});
