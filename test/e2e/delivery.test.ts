/**
 * Delivery through the gateway: courier profiles and availability, live locations, dispatch of a
 * confirmed order to the nearest courier (the supplier's own first), waiting orders assigned when a
 * courier comes online, no double assignment under concurrent confirmations, in_transit →
 * delivered with the handover code, the courier freed, and tracking over Server-Sent Events.
 */
import http from "http";
import {
	adminToken,
	Api,
	createCustomer,
	createProduct,
	createSupplier,
	login,
	Market,
	MARKET_SERVICES,
	orderBody,
	startMarket,
	waitForStatus,
} from "../helpers/market";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { makeEnvelope } from "../../lib/infra/envelopes";

jest.setTimeout(30000);

type Point = { lat: number; lng: number };
interface Courier {
	id: string;
	token: string;
}

/** A point `km` north of `from` (1° of latitude ≈ 111.19 km). */
const north = (from: Point, km: number): Point => ({ lat: from.lat + km / 111.19, lng: from.lng });

// Each scenario works in its own city, beyond the largest dispatch radius of the others.
const CITIES = {
	saoPaulo: { lat: -23.56, lng: -46.64 },
	campinas: { lat: -22.91, lng: -47.06 },
	santos: { lat: -23.96, lng: -46.33 },
	sorocaba: { lat: -23.5, lng: -47.46 },
	rio: { lat: -22.91, lng: -43.17 },
	curitiba: { lat: -25.43, lng: -49.27 },
};

let lastAt = 0;
/** Client timestamps that always move forward (two reports in one millisecond would be out of order). */
function nextAt(): string {
	lastAt = Math.max(Date.now(), lastAt + 1);
	return new Date(lastAt).toISOString();
}

let counter = 0;
async function createCourier(m: Market, opts: { supplierId?: string; status?: string; capacity?: number } = {}) {
	const email = `courier-${Date.now().toString(36)}-${++counter}@test.local`;
	const password = "courier-pass-1";
	const user: any = await m.broker.call("users.create", {
		email,
		password,
		name: `Courier ${counter}`,
		role: "courier",
		status: opts.status || "active",
		...(opts.supplierId ? { supplierId: opts.supplierId } : {}),
	});
	const token = await login(m.api, email, password);
	return { id: user.id as string, token, capacity: opts.capacity ?? 4 };
}

async function createProfile(api: Api, c: Courier & { capacity?: number }) {
	const res = await api.post(
		"/api/couriers",
		{ vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: c.capacity ?? 4 },
		{ token: c.token },
	);
	expect(res.status).toBe(201);
	return res.body;
}

async function report(api: Api, c: Courier, at: Point, extra: Record<string, unknown> = {}) {
	return api.put(
		`/api/couriers/${c.id}/location`,
		{ ...at, accuracy: 5, speed: 8, heading: 180, at: nextAt(), ...extra },
		{ token: c.token },
	);
}

async function setStatus(api: Api, c: Courier, status: string) {
	const res = await api.put(`/api/couriers/${c.id}/status`, { status }, { token: c.token });
	expect(res.status).toBe(200);
	return res.body;
}

/** An active courier with a profile and a position, available unless told otherwise. */
async function courierAt(
	m: Market,
	at: Point,
	opts: { supplierId?: string; available?: boolean; capacity?: number } = {},
) {
	const c = await createCourier(m, opts);
	await createProfile(m.api, { ...c, capacity: opts.capacity ?? c.capacity });
	expect((await report(m.api, c, at)).status).toBe(202);
	if (opts.available !== false) await setStatus(m.api, c, "available");
	return c;
}

/** A supplier in a city with stock, and a customer who lives 1 km from it. */
async function shopIn(m: Market, city: Point) {
	const supplier = await createSupplier(m, { location: city, deliveryRadiusKm: 10 });
	const product = await createProduct(m, supplier.token, { stock: 50 });
	const customer = await createCustomer(m);
	const home = north(city, -1);
	const order = (extra: Record<string, unknown> = {}) =>
		orderBody(supplier.id, product.id, {
			deliveryAddress: { street: "Rua A", number: "1", city: "X", ...home },
			...extra,
		});
	return { supplier, product, customer, home, order };
}

async function confirmedOrder(m: Market, shop: Awaited<ReturnType<typeof shopIn>>) {
	const res = await m.api.post("/api/orders", shop.order(), { token: shop.customer.token });
	expect(res.status).toBe(201);
	await waitForStatus(m, res.body.id, shop.customer.token, "confirmed");
	return res.body as { id: string; handoverCode: string };
}

const assignmentsOf = (m: Market, orderId: string) =>
	m.events.ofType("courier.assigned").filter((e) => e.data.orderId === orderId);

async function courierOf(m: Market, orderId: string, token: string): Promise<string> {
	return waitFor(async () => (await m.api.get(`/api/orders/${orderId}`, { token })).body.courierId, 5000);
}

interface SseEvent {
	event: string;
	data: any;
}

/** A real HTTP client reading the SSE stream as it arrives. */
function openSse(base: string, path: string, token: string) {
	const events: SseEvent[] = [];
	let status = 0;
	let headers: http.IncomingHttpHeaders = {};
	let body = "";
	const req = http.get(base + path, { headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" } });
	const ended = new Promise<void>((resolve, reject) => {
		req.on("response", (res) => {
			status = res.statusCode || 0;
			headers = res.headers;
			let buffer = "";
			res.setEncoding("utf8");
			res.on("data", (chunk: string) => {
				body += chunk;
				buffer += chunk;
				let cut: number;
				while ((cut = buffer.indexOf("\n\n")) >= 0) {
					const block = buffer.slice(0, cut);
					buffer = buffer.slice(cut + 2);
					const event = /^event: (.*)$/m.exec(block);
					const data = /^data: (.*)$/m.exec(block);
					if (event && data) events.push({ event: event[1], data: JSON.parse(data[1]) });
				}
			});
			res.on("end", resolve);
		});
		req.on("error", reject);
	});
	return {
		events,
		ended,
		status: () => status,
		headers: () => headers,
		body: () => body,
		close: () => req.destroy(),
	};
}

describe("couriers, dispatch and tracking", () => {
	let m: Market;
	let base: string;
	let admin: string;

	beforeAll(async () => {
		m = await startMarket(
			{ DISPATCH_RETRY_MS: "60000", DISPATCH_ALERT_AFTER_MS: "600000", TRACK_HEARTBEAT_MS: "60000" },
			[...MARKET_SERVICES, "couriers"],
		);
		base = gatewayUrl(m.broker);
		admin = await adminToken(m.api);
	});
	afterAll(() => m.stop());

	describe("profiles, availability and locations", () => {
		it("lets an active courier create their profile, once, and refuses the rest", async () => {
			const c = await createCourier(m);
			const bad = await m.api.post(
				"/api/couriers",
				{ vehicle: { type: "rocket", plate: "AB" }, capacity: 0 },
				{ token: c.token },
			);
			expect(bad.status).toBe(422);
			const extra = await m.api.post(
				"/api/couriers",
				{ vehicle: { type: "van", plate: "XYZ1234" }, capacity: 4, rating: 5 },
				{ token: c.token },
			);
			expect(extra.status).toBe(422);
			const claimSupplier = await m.api.post(
				"/api/couriers",
				{ vehicle: { type: "van", plate: "XYZ1234" }, capacity: 4, supplierId: "s1" },
				{ token: c.token },
			);
			expect(claimSupplier.status).toBe(403);

			const profile = await createProfile(m.api, c);
			expect(profile).toMatchObject({
				id: c.id,
				status: "offline",
				capacity: 4,
				supplierId: null,
				vehicle: { type: "motorcycle", plate: "ABC1D23" },
			});
			expect(
				(
					await m.api.post(
						"/api/couriers",
						{ vehicle: { type: "van", plate: "XYZ1234" }, capacity: 4 },
						{ token: c.token },
					)
				).status,
			).toBe(409);

			const pending = await createCourier(m, { status: "pending_verification" });
			const refused = await m.api.post(
				"/api/couriers",
				{ vehicle: { type: "car", plate: "XYZ1234" }, capacity: 2 },
				{ token: pending.token },
			);
			expect(refused.status).toBe(403);
			const customer = await createCustomer(m);
			expect(
				(
					await m.api.post(
						"/api/couriers",
						{ vehicle: { type: "car", plate: "XYZ1234" }, capacity: 2 },
						{ token: customer.token },
					)
				).status,
			).toBe(403);
			expect((await m.api.get(`/api/couriers/${pending.id}`, { token: admin })).status).toBe(404);
		});

		it("lets an admin create a profile for a verified courier of a supplier", async () => {
			const supplier = await createSupplier(m, { location: CITIES.curitiba });
			const c = await createCourier(m, { supplierId: supplier.id });
			const res = await m.api.post(
				"/api/couriers",
				{ userId: c.id, vehicle: { type: "truck", plate: "TRK0001" }, capacity: 40 },
				{ token: admin },
			);
			expect(res.status).toBe(201);
			expect(res.body).toMatchObject({ id: c.id, supplierId: supplier.id, capacity: 40 });
			const customer = await createCustomer(m);
			expect(
				(
					await m.api.post(
						"/api/couriers",
						{ userId: customer.id, vehicle: { type: "car", plate: "XYZ1234" }, capacity: 2 },
						{ token: admin },
					)
				).status,
			).toBe(422);

			// The supplier sees its own couriers only; customers see none.
			const other = await courierAt(m, CITIES.curitiba, { available: false });
			const mine = await m.api.get("/api/couriers", { token: supplier.token });
			expect(mine.status).toBe(200);
			expect(mine.body.rows.map((r: any) => r.id)).toEqual([c.id]);
			expect((await m.api.get(`/api/couriers/${c.id}`, { token: supplier.token })).status).toBe(200);
			expect((await m.api.get(`/api/couriers/${other.id}`, { token: supplier.token })).status).toBe(403);
			expect((await m.api.get("/api/couriers", { token: customer.token })).status).toBe(403);
		});

		it("keeps the newest location, ignores stale or out-of-order ones, and only the courier reports it", async () => {
			const c = await courierAt(m, CITIES.rio, { available: false });
			const first = await m.api.get(`/api/couriers/${c.id}`, { token: c.token });
			expect(first.body.position).toMatchObject({ lat: CITIES.rio.lat, lng: CITIES.rio.lng, speed: 8 });

			const older = new Date(Date.parse(first.body.position.at) - 1000).toISOString();
			const outOfOrder = await report(m.api, c, north(CITIES.rio, 5), { at: older });
			expect(outOfOrder.status).toBe(202);
			expect(outOfOrder.body).toEqual({ accepted: false, id: c.id, reason: "out_of_order" });
			const stale = await report(m.api, c, north(CITIES.rio, 5), { at: new Date(Date.now() - 3600_000).toISOString() });
			expect(stale.body).toEqual({ accepted: false, id: c.id, reason: "stale" });
			expect(
				(await report(m.api, c, north(CITIES.rio, 5), { at: new Date(Date.now() + 3600_000).toISOString() })).status,
			).toBe(422);
			expect((await report(m.api, c, { lat: 91, lng: 0 })).status).toBe(422);
			expect((await report(m.api, c, CITIES.rio, { at: "yesterday" })).status).toBe(422);
			expect((await report(m.api, c, CITIES.rio, { altitude: 3 })).status).toBe(422);
			const after = await m.api.get(`/api/couriers/${c.id}`, { token: admin });
			expect(after.body.position.lat).toBe(CITIES.rio.lat);

			const someoneElse = await courierAt(m, CITIES.rio, { available: false });
			const spoof = await m.api.put(
				`/api/couriers/${c.id}/location`,
				{ ...north(CITIES.rio, 9), at: nextAt() },
				{ token: someoneElse.token },
			);
			expect(spoof.status).toBe(403);
			expect((await report(m.api, c, north(CITIES.rio, 2))).body).toEqual({ accepted: true, id: c.id });
			const moved = await m.api.get(`/api/couriers/${c.id}`, { token: c.token });
			expect(moved.body.position.lat).toBeCloseTo(north(CITIES.rio, 2).lat, 9);

			// Admin finds couriers near a point, nearest first.
			const near = await m.api.get(`/api/couriers?lat=${CITIES.rio.lat}&lng=${CITIES.rio.lng}&radiusKm=1`, {
				token: admin,
			});
			expect(near.status).toBe(200);
			expect(near.body.rows.map((r: any) => r.id)).toEqual([someoneElse.id]);
			const wider = await m.api.get(`/api/couriers?lat=${CITIES.rio.lat}&lng=${CITIES.rio.lng}&radiusKm=3`, {
				token: admin,
			});
			expect(wider.body.rows.map((r: any) => r.id)).toEqual([someoneElse.id, c.id]);
			expect((await m.api.get(`/api/couriers?lat=${CITIES.rio.lat}`, { token: admin })).status).toBe(422);
		});
	});

	it("delivers end to end: nearest courier assigned, tracked over SSE, wrong code refused, courier freed", async () => {
		const shop = await shopIn(m, CITIES.saoPaulo);
		const asleep = await courierAt(m, north(CITIES.saoPaulo, 0.1), { available: false });
		const nearest = await courierAt(m, north(CITIES.saoPaulo, 0.6));
		const farther = await courierAt(m, north(CITIES.saoPaulo, 2));
		const farthest = await courierAt(m, north(CITIES.saoPaulo, 4));

		const order = await confirmedOrder(m, shop);
		const courierId = await courierOf(m, order.id, shop.customer.token);
		expect(courierId).toBe(nearest.id);
		expect(assignmentsOf(m, order.id)).toHaveLength(1);
		expect(assignmentsOf(m, order.id)[0].data).toMatchObject({
			courierId: nearest.id,
			supplierId: shop.supplier.id,
			customerId: shop.customer.id,
		});
		expect(assignmentsOf(m, order.id)[0].data.etaMinutes).toBeGreaterThan(0);
		const busy = await m.api.get(`/api/couriers/${nearest.id}`, { token: nearest.token });
		expect(busy.body).toMatchObject({ status: "busy", currentOrderId: order.id });
		for (const idle of [asleep, farther, farthest])
			expect((await m.api.get(`/api/couriers/${idle.id}`, { token: admin })).body.currentOrderId).toBeNull();
		expect(
			(await m.api.put(`/api/couriers/${nearest.id}/status`, { status: "offline" }, { token: nearest.token })).status,
		).toBe(409);

		// The customer sees the courier's position and an ETA.
		const seen = await m.api.get(`/api/orders/${order.id}`, { token: shop.customer.token });
		expect(seen.body.courier.position).toMatchObject(north(CITIES.saoPaulo, 0.6));
		expect(seen.body.courier.etaMinutes).toBeGreaterThan(0);

		// Another customer cannot track it; the customer can.
		const stranger = await createCustomer(m);
		const denied = await m.api.get(`/api/orders/${order.id}/track`, { token: stranger.token });
		expect(denied.status).toBe(403);
		const sse = openSse(base, `/api/orders/${order.id}/track`, shop.customer.token);
		await waitFor(() => sse.events.length >= 1, 3000);
		expect(sse.status()).toBe(200);
		expect(sse.headers()["content-type"]).toMatch(/^text\/event-stream/);
		expect(sse.events[0]).toMatchObject({
			event: "status",
			data: { orderId: order.id, status: "confirmed", courierId: nearest.id },
		});
		expect(sse.events[0].data.position.etaMinutes).toBeGreaterThan(0);

		// (That a client going away leaves no listener behind is checked in test/service/couriers.test.ts.)

		// The courier rides to the customer, reporting positions.
		const onTheWay = north(shop.home, 0.5);
		expect((await report(m.api, nearest, north(CITIES.saoPaulo, 0.2))).status).toBe(202);
		expect(
			(await m.api.put(`/api/orders/${order.id}/status`, { status: "in_transit" }, { token: farther.token })).status,
		).toBe(403);
		expect(
			(await m.api.put(`/api/orders/${order.id}/status`, { status: "in_transit" }, { token: nearest.token })).status,
		).toBe(200);
		expect((await report(m.api, nearest, onTheWay)).status).toBe(202);
		await waitFor(() => sse.events.some((e) => e.event === "status" && e.data.status === "in_transit"), 3000);
		await waitFor(() => sse.events.some((e) => e.event === "position" && e.data.lat === onTheWay.lat), 3000);
		const moving = sse.events.filter((e) => e.event === "position");
		expect(moving.length).toBeGreaterThanOrEqual(2);
		expect(moving[moving.length - 1].data).toMatchObject({
			courierId: nearest.id,
			lat: onTheWay.lat,
			lng: onTheWay.lng,
		});
		expect(moving[moving.length - 1].data.etaMinutes).toBeGreaterThan(0);

		// A wrong handover code is refused and changes nothing; the right one delivers.
		const wrongCode = order.handoverCode === "0000" ? "1111" : "0000";
		const wrong = await m.api.put(
			`/api/orders/${order.id}/status`,
			{ status: "delivered", handoverCode: wrongCode },
			{ token: nearest.token },
		);
		expect(wrong.status).toBe(422);
		expect((await m.api.get(`/api/orders/${order.id}`, { token: shop.customer.token })).body.status).toBe("in_transit");
		expect(m.events.ofType("delivery.completed").filter((e) => e.data.orderId === order.id)).toHaveLength(0);
		const right = await m.api.put(
			`/api/orders/${order.id}/status`,
			{ status: "delivered", handoverCode: order.handoverCode },
			{ token: nearest.token },
		);
		expect(right.status).toBe(200);

		await sse.ended; // the stream ends by itself after delivery
		expect(sse.events[sse.events.length - 1]).toMatchObject({ event: "status", data: { status: "delivered" } });

		const completed = await waitFor(() =>
			m.events.ofType("delivery.completed").find((e) => e.data.orderId === order.id),
		);
		expect(completed.data).toMatchObject({ courierId: nearest.id, supplierId: shop.supplier.id });
		expect(completed.data.minutes).toBeGreaterThanOrEqual(0);
		await waitFor(
			async () =>
				(await m.api.get(`/api/couriers/${nearest.id}`, { token: nearest.token })).body.status === "available",
		);
		expect((await m.api.get(`/api/couriers/${nearest.id}`, { token: nearest.token })).body.currentOrderId).toBeNull();

		// A delivered order's stream says so and ends at once.
		const replay = openSse(base, `/api/orders/${order.id}/track`, shop.customer.token);
		await replay.ended;
		expect(replay.events).toEqual([{ event: "status", data: expect.objectContaining({ status: "delivered" }) }]);
	});

	it("gives the order to the supplier's own courier before a nearer independent one, never to another supplier's", async () => {
		const shop = await shopIn(m, CITIES.santos);
		const rival = await createSupplier(m, { location: CITIES.santos });
		await courierAt(m, north(CITIES.santos, 0.1), { supplierId: rival.id });
		await courierAt(m, north(CITIES.santos, 0.5));
		const own = await courierAt(m, north(CITIES.santos, 3), { supplierId: shop.supplier.id });
		const order = await confirmedOrder(m, shop);
		expect(await courierOf(m, order.id, shop.customer.token)).toBe(own.id);
	});

	it("lets an order wait with no courier and assigns it as soon as one comes online", async () => {
		const shop = await shopIn(m, CITIES.campinas);
		const offline = await courierAt(m, north(CITIES.campinas, 1), { available: false });
		const tooFar = await courierAt(m, north(CITIES.campinas, 40));
		const order = await confirmedOrder(m, shop);
		await new Promise((r) => setTimeout(r, 300));
		expect(assignmentsOf(m, order.id)).toHaveLength(0);
		expect((await m.api.get(`/api/orders/${order.id}`, { token: shop.customer.token })).body.courierId).toBeFalsy();
		expect((await m.api.get(`/api/couriers/${tooFar.id}`, { token: admin })).body.status).toBe("available");

		// The retry timer is a minute long here: only going available can trigger this assignment.
		await setStatus(m.api, offline, "available");
		expect(await courierOf(m, order.id, shop.customer.token)).toBe(offline.id);
		expect(assignmentsOf(m, order.id)).toHaveLength(1);
		expect(assignmentsOf(m, order.id)[0].data.waitedSeconds).toBeGreaterThanOrEqual(0);
	});

	it("never gives two orders the same courier nor one order two couriers when confirmations arrive at once", async () => {
		const shop = await shopIn(m, CITIES.sorocaba);
		// Couriers that carry one cylinder: each takes one one-cylinder order (capacity).
		const couriers = await Promise.all(
			[0.5, 1, 1.5].map((km) => courierAt(m, north(CITIES.sorocaba, km), { capacity: 1 })),
		);
		const posts = await Promise.all(
			Array.from({ length: 6 }, () => m.api.post("/api/orders", shop.order(), { token: shop.customer.token })),
		);
		expect(posts.map((p) => p.status)).toEqual([201, 201, 201, 201, 201, 201]);
		const orderIds = posts.map((p) => p.body.id as string);
		await Promise.all(orderIds.map((id) => waitForStatus(m, id, shop.customer.token, "confirmed")));
		await waitFor(() => orderIds.filter((id) => assignmentsOf(m, id).length > 0).length === 3, 5000);
		await new Promise((r) => setTimeout(r, 300)); // room for a wrong extra assignment to show up

		const assignments = orderIds.flatMap((id) => assignmentsOf(m, id));
		expect(assignments).toHaveLength(3);
		expect(new Set(assignments.map((a) => a.data.orderId)).size).toBe(3);
		expect(new Set(assignments.map((a) => a.data.courierId))).toEqual(new Set(couriers.map((c) => c.id)));
		for (const c of couriers) {
			const view = (await m.api.get(`/api/couriers/${c.id}`, { token: admin })).body;
			expect(view.status).toBe("busy");
			expect(assignments.find((a) => a.data.courierId === c.id)!.data.orderId).toBe(view.currentOrderId);
		}

		// A cancelled waiting order is not dispatched; a courier coming online takes one still waiting.
		const waiting = orderIds.filter((id) => assignmentsOf(m, id).length === 0);
		expect(waiting).toHaveLength(3);
		const cancel = await m.api.put(
			`/api/orders/${waiting[0]}/status`,
			{ status: "cancelled" },
			{ token: shop.customer.token },
		);
		expect(cancel.status).toBe(200);
		await new Promise((r) => setTimeout(r, 100));
		const late = await courierAt(m, north(CITIES.sorocaba, 2), { capacity: 1 });
		const stillWaiting = waiting.slice(1);
		await waitFor(() => stillWaiting.some((id) => assignmentsOf(m, id).length === 1), 5000);
		const takenByLate = stillWaiting.find((id) => assignmentsOf(m, id).length === 1)!;
		expect(assignmentsOf(m, takenByLate)[0].data.courierId).toBe(late.id);
		expect(assignmentsOf(m, waiting[0])).toHaveLength(0);

		// Cancelling an assigned order frees its courier, who then takes the last waiting order.
		const last = stillWaiting.find((id) => id !== takenByLate)!;
		expect(assignmentsOf(m, last)).toHaveLength(0);
		const freedCourier = assignments[0].data.courierId;
		await m.api.put(
			`/api/orders/${assignments[0].data.orderId}/status`,
			{ status: "cancelled" },
			{ token: shop.customer.token },
		);
		await waitFor(() => assignmentsOf(m, last).length === 1, 5000);
		expect(assignmentsOf(m, last)[0].data.courierId).toBe(freedCourier);
		expect(assignmentsOf(m, waiting[0])).toHaveLength(0);
	});

	it("decides simultaneous and duplicated confirmations in the store: one courier per order, one order per courier", async () => {
		const city = CITIES.curitiba;
		const couriers = await Promise.all([1, 1.2, 1.4].map((km) => courierAt(m, north(city, km + 10), { capacity: 1 })));
		const supplierLocation = north(city, 10);
		const envelopes = Array.from({ length: 8 }, (_, i) =>
			makeEnvelope(
				"order.confirmed",
				{
					orderId: `burst-${i}`,
					customerId: "customer-x",
					supplierId: "supplier-x",
					cylinders: 1,
					deliveryLocation: north(supplierLocation, -1),
					supplierLocation,
					confirmedAt: new Date().toISOString(),
				},
				"system",
				null,
			),
		);
		// Every confirmation at once, each delivered twice (as a redelivery racing the original would be).
		const topic = channelName("order.events");
		await Promise.all([...envelopes, ...envelopes].map((e) => (m.broker as any).sendToChannel(topic, e)));
		const burst = () => m.events.ofType("courier.assigned").filter((e) => e.data.orderId.startsWith("burst-"));
		await waitFor(() => burst().length >= 3, 5000);
		await new Promise((r) => setTimeout(r, 300));

		expect(burst()).toHaveLength(3);
		expect(new Set(burst().map((a) => a.data.orderId)).size).toBe(3);
		expect(new Set(burst().map((a) => a.data.courierId))).toEqual(new Set(couriers.map((c) => c.id)));
		for (const c of couriers) {
			const view = (await m.api.get(`/api/couriers/${c.id}`, { token: admin })).body;
			expect(view).toMatchObject({
				status: "busy",
				currentOrderId: burst().find((a) => a.data.courierId === c.id)!.data.orderId,
			});
		}
		const { waiting } = await m.broker.call<any, any>("couriers.dispatchNow", {});
		expect(waiting).toBeGreaterThanOrEqual(5);
	});
});

describe("a cancellation handled before its confirmation", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket({}, [...MARKET_SERVICES, "couriers"]);
	});
	afterAll(() => m.stop());

	it("leaves the order unassigned and the courier free (events on a topic are handled concurrently)", async () => {
		const city = CITIES.saoPaulo;
		const courier = await courierAt(m, north(city, 21));
		const supplierLocation = north(city, 20);
		const data = {
			orderId: "out-of-order-1",
			customerId: "customer-y",
			supplierId: "supplier-y",
			cylinders: 1,
			deliveryLocation: north(supplierLocation, -1),
			supplierLocation,
			confirmedAt: new Date().toISOString(),
		};
		const topic = channelName("order.events");
		await (m.broker as any).sendToChannel(
			topic,
			makeEnvelope("order.cancelled", { ...data, reason: "changed my mind", courierId: null }, "system", null),
		);
		await new Promise((r) => setTimeout(r, 100));
		await (m.broker as any).sendToChannel(topic, makeEnvelope("order.confirmed", data, "system", null));
		await new Promise((r) => setTimeout(r, 300));
		expect(assignmentsOf(m, "out-of-order-1")).toHaveLength(0);
		const admin = await adminToken(m.api);
		expect((await m.api.get(`/api/couriers/${courier.id}`, { token: admin })).body.status).toBe("available");
	});
});

describe("dispatch schedule: growing radius and the unassigned alert", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket(
			{
				DISPATCH_RETRY_MS: "250",
				DISPATCH_RADIUS_KM: "1",
				DISPATCH_RADIUS_GROWTH: "2",
				DISPATCH_MAX_RADIUS_KM: "8",
				DISPATCH_ALERT_AFTER_MS: "700",
			},
			[...MARKET_SERVICES, "couriers"],
		);
	});
	afterAll(() => m.stop());

	it("looks farther as the order waits", async () => {
		const shop = await shopIn(m, CITIES.saoPaulo);
		const c = await courierAt(m, north(CITIES.saoPaulo, 3));
		const order = await confirmedOrder(m, shop);
		const confirmedAt = m.events.ofType("order.confirmed").find((e) => e.data.orderId === order.id).time;
		expect(await courierOf(m, order.id, shop.customer.token)).toBe(c.id);
		const assigned = assignmentsOf(m, order.id)[0];
		// 1 km, then 2 km after one step, 4 km (reaching 3 km) only after two steps of 250 ms.
		expect(Date.parse(assigned.time) - Date.parse(confirmedAt)).toBeGreaterThanOrEqual(450);
	});

	it("publishes delivery.unassigned once when no courier comes in time, and still assigns later", async () => {
		const shop = await shopIn(m, CITIES.rio);
		const order = await confirmedOrder(m, shop);
		const alert = await waitFor(
			() => m.events.ofType("delivery.unassigned").find((e) => e.data.orderId === order.id),
			5000,
		);
		expect(alert.data).toMatchObject({ supplierId: shop.supplier.id });
		expect(alert.data.waitedSeconds).toBeGreaterThanOrEqual(0);
		await new Promise((r) => setTimeout(r, 600)); // several more retries
		expect(m.events.ofType("delivery.unassigned").filter((e) => e.data.orderId === order.id)).toHaveLength(1);

		const c = await courierAt(m, north(CITIES.rio, 5));
		expect(await courierOf(m, order.id, shop.customer.token)).toBe(c.id);
	});
});
