/**
 * Two instances of orders (and of payments) over NATS, sharing one PostgreSQL store, as the HPA
 * scales them in a real cluster: a flood of orders spread over both instances ends with every order
 * confirmed once, paid once, and the stock exact; events are consumed once per service group.
 */
import { Cluster, clusterTest, eventually, startCluster } from "../helpers/cluster";
import { describeWithInfra } from "../helpers/infra";
import { createCustomer, createProduct, createSupplier, Market, orderBody } from "../helpers/market";
import { group, MARKET_ENV, marketOver } from "./flows";

describeWithInfra(
	["nats", "postgres"],
	"cluster: two orders and two payments instances on one PostgreSQL store",
	() => {
		let cluster: Cluster | undefined;
		let m: Market;
		const it = clusterTest(() => cluster);
		jest.setTimeout(120_000);

		beforeAll(async () => {
			cluster = await startCluster(
				[
					group("gateway"),
					group("onboarding"),
					group("products"),
					{ name: "orders-a", services: ["orders", "payments"] },
					{ name: "orders-b", services: ["orders", "payments"] },
				],
				{ env: MARKET_ENV, store: "postgres" },
			);
			m = await marketOver(cluster, ["users", "products", "orders", "payments"]);
		});
		afterAll(async () => {
			await cluster?.stopAll();
		});

		it("40 concurrent orders over both instances: each confirmed and paid exactly once, stock exact", async () => {
			const supplier = await createSupplier(m, { location: { lat: -23.56, lng: -46.64 }, deliveryRadiusKm: 10 });
			const product = await createProduct(m, supplier.token, { type: "P13", priceCents: 11000, stock: 50 });
			const customers = await Promise.all(Array.from({ length: 4 }, () => createCustomer(m)));
			const created = await Promise.all(
				Array.from({ length: 40 }, (_, i) =>
					m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customers[i % 4].token }),
				),
			);
			expect(created.map((r) => r.status)).toEqual(Array(40).fill(201));
			const ids = created.map((r) => r.body.id as string);

			await eventually(
				async () => {
					const states = await Promise.all(
						ids.map(async (id, i) => (await m.api.get(`/api/orders/${id}`, { token: customers[i % 4].token })).body),
					);
					return states.every((o) => o.status === "confirmed" && o.paymentStatus === "captured");
				},
				60_000,
				250,
			);
			// The events are relayed from the outbox after the state they describe is written: wait for
			// them, then check that none came twice.
			await eventually(
				() =>
					ids.every((id) =>
						["payment.processed", "order.confirmed"].every((type) =>
							m.events.ofType(type).some((e) => e.data.orderId === id),
						),
					),
				10_000,
				100,
			);
			await new Promise((resolve) => setTimeout(resolve, 1_500)); // a duplicate would arrive by now
			for (const id of ids) {
				expect(m.events.ofType("payment.processed").filter((e) => e.data.orderId === id)).toHaveLength(1);
				expect(m.events.ofType("order.confirmed").filter((e) => e.data.orderId === id)).toHaveLength(1);
			}
			expect((await m.api.get(`/api/products/${product.id}`)).body.stock).toBe(10);

			// Both instances did part of the work: each node handled some of the orders' actions.
			const handledBy = (name: string) =>
				cluster!.jsonLogs(name).filter((l) => l.action === "orders.create" || l.action === "payments.charge").length;
			expect(handledBy("orders-a") + handledBy("orders-b")).toBeGreaterThan(0);
		});
	},
);
