/**
 * The ordering saga split over processes (gateway | onboarding | products | orders | payments),
 * with business events on NATS JetStream: browse → order → paid → confirmed, and an order created
 * while payments is down (kill -9) is paid once payments comes back, exactly once.
 */
import { Cluster, clusterTest, eventually, startCluster } from "../helpers/cluster";
import { describeWithInfra } from "../helpers/infra";
import { createCustomer, createProduct, createSupplier, HOME, Market, orderBody } from "../helpers/market";
import { group, MARKET_ENV, marketOver } from "./flows";

describeWithInfra(["nats"], "cluster: marketplace over NATS", () => {
	let cluster: Cluster | undefined;
	let m: Market;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		cluster = await startCluster(
			[
				group("gateway"),
				group("onboarding"),
				group("products"),
				{ name: "orders", services: ["orders"] },
				{ name: "payments", services: ["payments"] },
			],
			{ env: MARKET_ENV },
		);
		m = await marketOver(cluster, ["users", "products", "orders", "payments"]);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	const statusOf = async (orderId: string, token: string) =>
		(await m.api.get(`/api/orders/${orderId}`, { token })).body;

	it("browse → order → paid → confirmed across five processes", async () => {
		const supplier = await createSupplier(m, {
			businessName: "Gás Cluster",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 5,
		});
		const product = await createProduct(m, supplier.token, { type: "P13", priceCents: 12000, stock: 10 });
		const customer = await createCustomer(m);

		const list = await m.api.get(`/api/products?type=P13&lat=${HOME.lat}&lng=${HOME.lng}&sort=price`);
		expect(list.status).toBe(200);
		expect(list.body.rows.map((r: any) => r.id)).toContain(product.id);

		const created = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		expect(created.status).toBe(201);
		expect(created.body.status).toBe("created");
		const order = await eventually(async () => {
			const o = await statusOf(created.body.id, customer.token);
			return o.status === "confirmed" && o;
		}, 15_000);
		expect(order.paymentStatus).toBe("captured");
		expect(order.history.map((h: any) => h.status)).toEqual(["created", "confirmed"]);
		expect((await m.api.get(`/api/products/${product.id}`)).body.stock).toBe(9);

		const paid = m.events.ofType("payment.processed").filter((e) => e.data.orderId === created.body.id);
		expect(paid).toHaveLength(1);
		expect(paid[0].data).toMatchObject({ amountCents: created.body.totalCents, status: "captured" });
		// the payment event carries the request id of the HTTP request that created the order
		const orderCreated = m.events.ofType("order.created").find((e) => e.data.orderId === created.body.id);
		expect(orderCreated.requestId).toBe(created.headers.get("x-request-id"));
	});

	it("an order created while payments is down (kill -9) is paid once payments comes back", async () => {
		const supplier = await createSupplier(m, {
			businessName: "Gás Durável",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 5,
		});
		const product = await createProduct(m, supplier.token, { type: "P13", priceCents: 11000, stock: 5 });
		const customer = await createCustomer(m);

		await cluster!.kill("payments", "SIGKILL");
		const created = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		expect(created.status).toBe(201);
		const orderId = created.body.id;
		// order.created is on JetStream; with no payments consumer alive the order waits
		await new Promise((r) => setTimeout(r, 1500));
		expect((await statusOf(orderId, customer.token)).status).toBe("created");
		expect(m.events.ofType("payment.processed").some((e) => e.data.orderId === orderId)).toBe(false);

		await cluster!.restart("payments");
		const order = await eventually(
			async () => {
				const o = await statusOf(orderId, customer.token);
				return o.status === "confirmed" && o;
			},
			20_000,
			200,
		);
		expect(order.paymentStatus).toBe("captured");
		await new Promise((r) => setTimeout(r, 500));
		expect(m.events.ofType("payment.processed").filter((e) => e.data.orderId === orderId)).toHaveLength(1);
	});
});
