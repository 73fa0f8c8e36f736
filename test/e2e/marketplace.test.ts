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
		const near = await createSupplier(m, { businessName: "Perto Gás", location: { lat: -23.56, lng: -46.64 }, deliveryRadiusKm: 5 });
		const far = await createSupplier(m, { businessName: "Longe Gás", location: { lat: -23.6, lng: -46.7 }, deliveryRadiusKm: 15 });
		const outOfRange = await createSupplier(m, { businessName: "Fora", location: { lat: -22.9, lng: -43.2 }, deliveryRadiusKm: 10 });
		const pNear = await createProduct(m, near.token, { type: "P13", priceCents: 12000 });
		const pFar = await createProduct(m, far.token, { type: "P13", priceCents: 10000 });
		await createProduct(m, outOfRange.token, { type: "P13", priceCents: 5000 });

		const byPrice = await m.api.get(`/api/products?type=P13&lat=${HOME.lat}&lng=${HOME.lng}&sort=price&supplierId=${""}`);
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
		expect(res.body.handoverCode).toMatch(/^\d{4}$/);
		expect(res.body).not.toHaveProperty("paymentToken");
		await waitForStatus(m, res.body.id, customer.token, "confirmed");

		const order = (await m.api.get(`/api/orders/${res.body.id}`, { token: customer.token })).body;
		expect(order.history.map((h: any) => h.status)).toEqual(["created", "confirmed"]);
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
		expect(payments.body.rows[0].transactions).toEqual([expect.objectContaining({ kind: "charge", status: "captured" })]);
	});
});
