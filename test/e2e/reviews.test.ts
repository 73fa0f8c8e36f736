/**
 * Ratings and reviews over HTTP: a delivered order's customer rates the supplier and the courier
 * once; nobody else can; the catalog shows the average and sorts by it; the supplier's reviews page;
 * a low rating becomes an alert admins see.
 */
import { adminToken, createCustomer, Market, MARKET_SERVICES, startMarket } from "../helpers/market";
import { deliveredOrder, orderInTransit, Shop, shopWithCourier } from "../helpers/delivered";
import { waitFor } from "../helpers/broker";

describe("ratings and reviews (HTTP)", () => {
	let m: Market;
	let shop: Shop;
	let other: Shop;

	beforeAll(async () => {
		m = await startMarket({}, [...MARKET_SERVICES, "couriers", "reviews", "alerts"]);
		shop = await shopWithCourier(m, { brand: "liquigas" });
		other = await shopWithCourier(m, { brand: "ultragaz", priceCents: 9000 });
	});
	afterAll(() => m.stop());

	test("the customer rates once after delivery; others get 403; the catalog shows and sorts by rating", async () => {
		const { customer, order } = await deliveredOrder(m, shop);
		const stranger = await createCustomer(m);
		const body = { orderId: order.id, supplierRating: 5, courierRating: 4, comment: "Entrega rápida" };
		expect((await m.api.post("/api/reviews", body, { token: stranger.token })).status).toBe(403);
		expect((await m.api.post("/api/reviews", body, { token: shop.supplier.token })).status).toBe(403);
		expect((await m.api.post("/api/reviews", body, { token: shop.courier.token })).status).toBe(403);
		expect((await m.api.post("/api/reviews", body)).status).toBe(401);
		expect((await m.api.post("/api/reviews", { ...body, supplierRating: 9 }, { token: customer.token })).status).toBe(
			422,
		);
		const created = await m.api.post("/api/reviews", body, { token: customer.token });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ orderId: order.id, supplierRating: 5, courierRating: 4 });
		const again = await m.api.post("/api/reviews", { ...body, supplierRating: 1 }, { token: customer.token });
		expect(again.status).toBe(409);
		expect(again.body.type).toBe("ALREADY_RATED");

		const mine = await m.api.get(`/api/reviews/orders/${order.id}`, { token: customer.token });
		expect(mine.status).toBe(200);
		expect((await m.api.get(`/api/reviews/orders/${order.id}`, { token: stranger.token })).status).toBe(403);

		// the reviews page (public) and the catalog, sorted by rating: the rated shop first though dearer
		const page = await m.api.get(`/api/suppliers/${shop.supplier.id}/reviews?pageSize=5`);
		expect(page.status).toBe(200);
		expect(page.body.summary).toMatchObject({ average: 5, count: 1 });
		expect(page.body.rows[0]).toMatchObject({ rating: 5, comment: "Entrega rápida" });
		expect(page.body.rows[0].customerId).toBeUndefined();
		expect((await m.api.get(`/api/suppliers/${shop.supplier.id}/reviews?pageSize=500`)).status).toBe(422);
		const sorted = await waitFor(async () => {
			const res = await m.api.get("/api/products?sort=rating&type=P13&pageSize=100");
			const ids = res.body.rows.map((r: { supplier: { id: string } }) => r.supplier.id);
			return res.body.rows[0].supplier.id === shop.supplier.id && ids.includes(other.supplier.id) && res.body;
		}, 5000);
		expect(sorted.rows[0].supplier).toMatchObject({ rating: 5, ratingCount: 1 });
		const unrated = sorted.rows.find((r: { supplier: { id: string } }) => r.supplier.id === other.supplier.id);
		expect(unrated.supplier).toMatchObject({ rating: null, ratingCount: 0 });
		const byPrice = await m.api.get("/api/products?type=P13&pageSize=100");
		expect(byPrice.body.rows[0].supplier.id).not.toBe(shop.supplier.id);
	});

	test("an order not yet delivered cannot be rated (409); a low rating raises an alert for admins", async () => {
		const { customer, order } = await orderInTransit(m, shop);
		const early = await m.api.post("/api/reviews", { orderId: order.id, supplierRating: 1 }, { token: customer.token });
		expect(early.status).toBe(409);

		const bad = await deliveredOrder(m, shop);
		const low = { orderId: bad.order.id, supplierRating: 2, comment: "Botijão amassado" };
		expect((await m.api.post("/api/reviews", low, { token: bad.customer.token })).status).toBe(201);
		const admin = await adminToken(m.api);
		const alert = await waitFor(async () => {
			const res = await m.api.get("/api/alerts?rule=low_rating&pageSize=100", { token: admin });
			return res.body.rows.find((a: { key: string }) => a.key === `low_rating:${bad.order.id}`);
		}, 5000);
		expect(alert).toMatchObject({ status: "open", severity: "warning" });
		expect(alert.summary).toContain(`supplier ${shop.supplier.id} 2/5`);
		const page = await m.api.get(`/api/suppliers/${shop.supplier.id}/reviews`);
		expect(page.body.summary).toMatchObject({ average: 3.5, count: 2 });
	});

	test("the catalog filters by brand; products without one read as other", async () => {
		const lq = await m.api.get("/api/products?brand=liquigas&pageSize=100");
		expect(lq.status).toBe(200);
		expect(lq.body.rows.length).toBeGreaterThan(0);
		expect(lq.body.rows.every((r: { brand: string }) => r.brand === "liquigas")).toBe(true);
		expect((await m.api.get("/api/products?brand=acme")).status).toBe(422);
		const plain = await shopWithCourier(m);
		const others = await m.api.get(`/api/products?brand=other&supplierId=${plain.supplier.id}`);
		expect(others.body.rows).toHaveLength(1);
		expect(others.body.rows[0].brand).toBe("other");
		const changed = await m.api.put(
			`/api/products/${plain.product.id}`,
			{ brand: "copagaz" },
			{ token: plain.supplier.token },
		);
		expect(changed.status).toBe(200);
		expect(changed.body.brand).toBe("copagaz");
		const bad = await m.api.put(
			`/api/products/${plain.product.id}`,
			{ brand: "acme" },
			{ token: plain.supplier.token },
		);
		expect(bad.status).toBe(422);
	});
});
