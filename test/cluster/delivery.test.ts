/**
 * Delivery split over processes: gateway | onboarding | products | orders+payments | couriers.
 * A confirmed order is assigned to the nearest available courier, goes in_transit and is
 * delivered with the handover code; the courier is freed.
 *
 * Two couriers-service instances share the work through one store: the cluster's PostgreSQL
 * (DATABASE_URL), or MongoDB when MONGO_URI is set.
 */
import { Cluster, clusterTest, eventually, NodeSpec, startCluster } from "../helpers/cluster";
import { describeWithInfra } from "../helpers/infra";
import { Api, createCustomer, createProduct, createSupplier, login, Market, orderBody } from "../helpers/market";
import { group, MARKET_ENV, marketOver } from "./flows";

type Point = { lat: number; lng: number };
const north = (from: Point, km: number): Point => ({ lat: from.lat + km / 111.19, lng: from.lng });
const CITY = { lat: -23.56, lng: -46.64 };
const MONGO_URI = process.env.MONGO_URI || "";

let counter = 0;
async function courierAt(m: Market, at: Point) {
	const email = `courier-${Date.now().toString(36)}-${++counter}@test.local`;
	const user: any = await m.broker.call("users.create", {
		email,
		password: "courier-pass-1",
		name: `Courier ${counter}`,
		role: "courier",
		status: "active",
	});
	const courier = { id: user.id as string, token: await login(m.api, email, "courier-pass-1") };
	const profile = await m.api.post(
		"/api/couriers",
		{ vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: 4 },
		{ token: courier.token },
	);
	expect(profile.status).toBe(201);
	expect((await report(m.api, courier, at)).status).toBe(202);
	expect(
		(await m.api.put(`/api/couriers/${courier.id}/status`, { status: "available" }, { token: courier.token })).status,
	).toBe(200);
	return courier;
}

let lastAt = 0;
function report(api: Api, c: { id: string; token: string }, at: Point) {
	lastAt = Math.max(Date.now(), lastAt + 1);
	return api.put(
		`/api/couriers/${c.id}/location`,
		{ ...at, accuracy: 5, speed: 8, heading: 180, at: new Date(lastAt).toISOString() },
		{ token: c.token },
	);
}

describeWithInfra(["nats"], "cluster: delivery over NATS, one couriers instance", () =>
	deliverySuite([group("couriers")]),
);
describeWithInfra(
	["nats", "postgres"],
	"cluster: delivery over NATS, two couriers instances sharing one PostgreSQL store",
	() =>
		describe("two couriers instances", () =>
			deliverySuite([
				{ name: "couriers-a", services: ["couriers"] },
				{ name: "couriers-b", services: ["couriers"] },
			])),
);

function deliverySuite(couriers: NodeSpec[]) {
	let cluster: Cluster | undefined;
	let m: Market;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		cluster = await startCluster(
			[group("gateway"), group("onboarding"), group("products"), group("orders"), ...couriers],
			{
				env: {
					...MARKET_ENV,
					DISPATCH_RETRY_MS: "60000",
					DISPATCH_ALERT_AFTER_MS: "600000",
					TRACK_HEARTBEAT_MS: "60000",
					...(MONGO_URI ? { MONGO_URI, DATABASE_URL: "" } : {}),
				},
			},
		);
		m = await marketOver(cluster, ["users", "products", "orders", "payments", "couriers"]);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	it("confirmed order → nearest courier assigned → in_transit → delivered, courier freed", async () => {
		const supplier = await createSupplier(m, { location: CITY, deliveryRadiusKm: 10 });
		const product = await createProduct(m, supplier.token, { stock: 20 });
		const customer = await createCustomer(m);
		const home = north(CITY, -1);
		const farther = await courierAt(m, north(CITY, 3));
		const nearest = await courierAt(m, north(CITY, 0.5));

		const created = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, { deliveryAddress: { street: "Rua A", number: "1", city: "X", ...home } }),
			{ token: customer.token },
		);
		expect(created.status).toBe(201);
		const orderId = created.body.id;
		const assigned = await eventually(
			async () => {
				const o = (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body;
				return o.status === "confirmed" && o.courierId && o;
			},
			15_000,
			200,
		);
		expect(assigned.courierId).toBe(nearest.id);
		const assignments = m.events.ofType("courier.assigned").filter((e) => e.data.orderId === orderId);
		expect(assignments).toHaveLength(1);
		expect(assignments[0].data).toMatchObject({
			courierId: nearest.id,
			supplierId: supplier.id,
			customerId: customer.id,
		});
		expect((await m.api.get(`/api/couriers/${farther.id}`, { token: farther.token })).body.currentOrderId).toBeNull();

		expect(
			(await m.api.put(`/api/orders/${orderId}/status`, { status: "in_transit" }, { token: farther.token })).status,
		).toBe(403);
		expect(
			(await m.api.put(`/api/orders/${orderId}/status`, { status: "in_transit" }, { token: nearest.token })).status,
		).toBe(200);
		expect((await report(m.api, nearest, north(home, 0.3))).status).toBe(202);
		const delivered = await m.api.put(
			`/api/orders/${orderId}/status`,
			{ status: "delivered", handoverCode: created.body.handoverCode },
			{ token: nearest.token },
		);
		expect(delivered.status).toBe(200);
		expect(delivered.body.status).toBe("delivered");

		const completed = await eventually(
			() => m.events.ofType("delivery.completed").find((e) => e.data.orderId === orderId),
			10_000,
		);
		expect(completed.data).toMatchObject({ courierId: nearest.id, supplierId: supplier.id });
		await eventually(
			async () =>
				(await m.api.get(`/api/couriers/${nearest.id}`, { token: nearest.token })).body.status === "available",
			10_000,
		);
		const history = (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body.history;
		expect(history.map((h: any) => h.status)).toEqual(["created", "confirmed", "confirmed", "in_transit", "delivered"]);
		expect(history.filter((h: any) => h.note === "courier assigned")).toHaveLength(1);
	});

	it("12 orders confirmed at once, 3 couriers of capacity 4: each order assigned exactly once, no courier over capacity", async () => {
		const customers = await Promise.all(Array.from({ length: 3 }, () => createCustomer(m)));
		// 100 km away from the other tests' couriers: only these three are in range
		const town = north(CITY, 100);
		const supplierHere = await createSupplier(m, { location: town, deliveryRadiusKm: 10 });
		const productHere = await createProduct(m, supplierHere.token, { stock: 40 });
		const couriers = await Promise.all([0.4, 0.8, 1.2].map((km) => courierAt(m, north(town, km))));
		const home = north(town, -1);

		const created = await Promise.all(
			Array.from({ length: 12 }, (_, i) =>
				m.api.post(
					"/api/orders",
					orderBody(supplierHere.id, productHere.id, {
						deliveryAddress: { street: "Rua B", number: String(i + 1), city: "X", ...home },
					}),
					{ token: customers[i % 3].token },
				),
			),
		);
		expect(created.map((r) => r.status)).toEqual(Array(12).fill(201));
		const ids = created.map((r) => r.body.id as string);

		// every order ends with one courier, and that courier's profile carries it
		const assigned = await eventually(
			async () => {
				const orders = await Promise.all(
					ids.map(async (id, i) => (await m.api.get(`/api/orders/${id}`, { token: customers[i % 3].token })).body),
				);
				return orders.every((o) => o.status === "confirmed" && o.courierId) && orders;
			},
			30_000,
			250,
		);
		for (const id of ids)
			expect(m.events.ofType("courier.assigned").filter((e) => e.data.orderId === id)).toHaveLength(1);
		const profiles = await Promise.all(
			couriers.map(async (c) => (await m.api.get(`/api/couriers/${c.id}`, { token: c.token })).body),
		);
		for (const p of profiles) {
			const carried = [...(p.orderIds as string[])].sort();
			const ordersOfCourier = assigned
				.filter((o: any) => o.courierId === p.id)
				.map((o: any) => o.id)
				.sort();
			expect({ courier: p.id, carried, load: p.load }).toEqual({
				courier: p.id,
				carried: ordersOfCourier,
				load: ordersOfCourier.length,
			});
			expect(p.load).toBeLessThanOrEqual(4);
		}
		expect(profiles.reduce((sum, p) => sum + p.load, 0)).toBe(12);
	});
}
