/**
 * The couriers service on a broker of its own: actions through broker.call, order events published
 * on the durable topics, orders faked (orders.trackingView answers from `views`). Each scenario works
 * in its own area, farther from the others than the largest dispatch radius.
 */
import { EventEmitter } from "events";
import { PassThrough } from "stream";
import { ServiceBroker, ServiceSchema } from "moleculer";
import type { CourierView, TrackingView } from "../../lib/contracts/couriers";
import type { EventMap, EventName } from "../../lib/contracts/events";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { publisher } from "../helpers/publisher";

jest.setTimeout(20000);

type Point = { lat: number; lng: number };
type CallResult<T> = Promise<T>;

const views = new Map<string, TrackingView>();
const trackingCalls: { orderId: string; userId: string; role: string }[] = [];
const fakeOrders: ServiceSchema = {
	name: "orders",
	actions: {
		trackingView(ctx) {
			const params = ctx.params as { orderId: string; userId: string; role: string };
			trackingCalls.push(params);
			const view = views.get(params.orderId);
			if (!view) return null;
			return { ...view, visible: params.role === "admin" || params.userId === view.customerId };
		},
	},
};

const events = eventRecorder();
let broker: ServiceBroker;
const ALERT_AFTER_MS = 300;

beforeAll(async () => {
	broker = await startBroker({
		services: ["couriers"],
		extraServices: [fakeOrders, publisher, events.schema],
		env: { DISPATCH_RETRY_MS: "60000", DISPATCH_ALERT_AFTER_MS: String(ALERT_AFTER_MS), TRACK_HEARTBEAT_MS: "60000" },
	});
});
afterAll(() => broker.stop());

let seq = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
let area = 0;
/** A fresh area, 1° of latitude (111 km) from the previous one. */
const newArea = (): Point => ({ lat: -5 - ++area, lng: -50 });
const north = (from: Point, km: number): Point => ({ lat: from.lat + km / 111.19, lng: from.lng });
const user = (id: string, role = "courier", extra: Record<string, unknown> = {}) => ({
	meta: { user: { id, role, status: "active", mfa: false, mfaEnabled: false, ...extra } },
});
const ADMIN = user("admin-1", "admin");
const call = <T>(action: string, params: object, opts: object = ADMIN): CallResult<T> =>
	broker.call(action, params, opts) as Promise<T>;
const publish = <K extends EventName>(type: K, data: EventMap[K]) => call("publisher.publish", { type, data });
const view = (id: string) => call<CourierView>("couriers.get", { id });
let lastAt = 0;
const nextAt = () => new Date((lastAt = Math.max(Date.now(), lastAt + 1))).toISOString();

async function courier(at: Point | null, opts: { capacity?: number; supplierId?: string; available?: boolean } = {}) {
	const id = uid("courier");
	const as = user(id, "courier", { supplierId: opts.supplierId ?? null });
	await call(
		"couriers.create",
		{ vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: opts.capacity ?? 4 },
		as,
	);
	if (at) await call("couriers.updateLocation", { id, ...at, speed: 8, at: nextAt() }, as);
	if (opts.available !== false) await call("couriers.setStatus", { id, status: "available" }, as);
	return { id, as };
}

function confirmed(
	supplierLocation: Point,
	extra: Partial<EventMap["order.confirmed"]> = {},
): EventMap["order.confirmed"] {
	return {
		orderId: uid("order"),
		customerId: "customer-1",
		supplierId: "supplier-1",
		totalCents: 12000,
		paymentMethod: "pix",
		cylinders: 1,
		deliveryLocation: north(supplierLocation, -1),
		supplierLocation,
		confirmedAt: new Date().toISOString(),
		promisedBy: null,
		...extra,
	};
}

const assignments = (orderId: string) => events.ofType("courier.assigned").filter((e) => e.data.orderId === orderId);
const assignedCourier = (orderId: string) => waitFor(() => assignments(orderId)[0]?.data.courierId as string, 5000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const delivered = (o: EventMap["order.confirmed"], courierId: string): EventMap["order.delivered"] => ({
	orderId: o.orderId,
	customerId: o.customerId,
	supplierId: o.supplierId,
	courierId,
	totalCents: o.totalCents,
	confirmedAt: o.confirmedAt,
	deliveredAt: new Date().toISOString(),
	promisedBy: null,
});
const cancelled = (o: { orderId: string }, courierId: string | null = null): EventMap["order.cancelled"] => ({
	orderId: o.orderId,
	customerId: "customer-1",
	supplierId: "supplier-1",
	courierId,
	reason: null,
	cancelledBy: "customer-1",
	wasPaid: false,
});

describe("profiles and availability", () => {
	it("creates a profile once, toggles availability, and refuses what it must", async () => {
		const { id, as } = await courier(null, { available: false });
		expect(await view(id)).toMatchObject({ id, status: "offline", load: 0, orderIds: [], currentOrderId: null });
		await expect(
			call("couriers.create", { vehicle: { type: "van", plate: "XYZ1234" }, capacity: 2 }, as),
		).rejects.toMatchObject({ code: 409 });
		await expect(
			call("couriers.create", { vehicle: { type: "van", plate: "XYZ1234" }, capacity: 2, supplierId: "s" }, as),
		).rejects.toMatchObject({ code: 403 });
		const pending = user(uid("pending"), "courier", { status: "pending_verification" });
		await expect(
			call("couriers.create", { vehicle: { type: "van", plate: "XYZ1234" }, capacity: 2 }, pending),
		).rejects.toMatchObject({ code: 403 });

		expect((await call<CourierView>("couriers.setStatus", { id, status: "available" }, as)).status).toBe("available");
		await expect(call("couriers.setStatus", { id, status: "available" }, user("someone-else"))).rejects.toMatchObject({
			code: 403,
		});
		await expect(call("couriers.setStatus", { id: "nobody", status: "available" })).rejects.toMatchObject({
			code: 404,
		});
		await expect(call("couriers.get", { id: "nobody" })).rejects.toMatchObject({ code: 404 });
		await expect(call("couriers.get", { id }, user("customer-1", "customer"))).rejects.toMatchObject({ code: 403 });
		expect((await call<CourierView>("couriers.setStatus", { id, status: "offline" }, as)).status).toBe("offline");
	});

	it("takes a suspended courier off duty", async () => {
		const { id } = await courier(newArea());
		await publish("user.updated", { userId: id, role: "courier", status: "suspended", changed: ["status"] });
		await waitFor(async () => (await view(id)).status === "offline");
	});

	it("lists by distance only with both coordinates", async () => {
		const at = newArea();
		const near = await courier(at, { available: false });
		const far = await courier(north(at, 2), { available: false });
		const rows = (await call<{ rows: CourierView[] }>("couriers.list", { ...at, radiusKm: 3 })).rows;
		expect(rows.map((r) => r.id)).toEqual([near.id, far.id]);
		await expect(call("couriers.list", { lat: at.lat })).rejects.toMatchObject({ code: 422 });
	});
});

describe("location updates", () => {
	it("keeps the newest report and ignores stale or out-of-order ones", async () => {
		const at = newArea();
		const { id, as } = await courier(at, { available: false });
		const first = (await view(id)).position!;
		expect(first).toMatchObject(at);
		const report = (p: Point, when: string) => call("couriers.updateLocation", { id, ...p, at: when }, as);
		expect(await report(north(at, 5), new Date(Date.parse(first.at) - 1000).toISOString())).toEqual({
			accepted: false,
			id,
			reason: "out_of_order",
		});
		expect(await report(north(at, 5), new Date(Date.now() - 3600_000).toISOString())).toEqual({
			accepted: false,
			id,
			reason: "stale",
		});
		await expect(report(north(at, 5), new Date(Date.now() + 3600_000).toISOString())).rejects.toMatchObject({
			code: 422,
		});
		await expect(report(at, "yesterday")).rejects.toMatchObject({ code: 422 });
		await expect(call("couriers.updateLocation", { id, ...at, at: nextAt() }, user("other"))).rejects.toMatchObject({
			code: 403,
		});
		expect((await view(id)).position).toMatchObject(at);
		expect(await report(north(at, 2), nextAt())).toEqual({ accepted: true, id });
		expect((await view(id)).position!.lat).toBeCloseTo(north(at, 2).lat, 9);
	});
});

describe("dispatch", () => {
	it("assigns the nearest courier, the supplier's own first, never another supplier's", async () => {
		const at = newArea();
		await courier(north(at, 0.1), { supplierId: "rival" });
		const independentNear = await courier(north(at, 0.5));
		await courier(north(at, 2));
		const o1 = confirmed(at);
		await publish("order.confirmed", o1);
		expect(await assignedCourier(o1.orderId)).toBe(independentNear.id);
		expect(assignments(o1.orderId)[0].data).toMatchObject({ supplierId: "supplier-1", customerId: "customer-1" });
		expect(assignments(o1.orderId)[0].data.etaMinutes).toBeGreaterThan(0);

		const own = await courier(north(at, 3), { supplierId: "supplier-2" });
		const o2 = confirmed(at, { supplierId: "supplier-2" });
		await publish("order.confirmed", o2);
		expect(await assignedCourier(o2.orderId)).toBe(own.id);
	});

	it("offers a courier with room a second order while it carries the first, never beyond its capacity", async () => {
		const at = newArea();
		const c = await courier(north(at, 1), { capacity: 2 });
		const [a, b, third] = [confirmed(at), confirmed(at), confirmed(at)];
		await publish("order.confirmed", a);
		expect(await assignedCourier(a.orderId)).toBe(c.id);
		await publish("order.confirmed", b);
		expect(await assignedCourier(b.orderId)).toBe(c.id);
		await publish("order.confirmed", third);
		await sleep(200);
		expect(assignments(third.orderId)).toHaveLength(0);
		expect(await view(c.id)).toMatchObject({
			status: "busy",
			load: 2,
			orderIds: [a.orderId, b.orderId],
			currentOrderId: a.orderId,
		});
		await expect(call("couriers.setStatus", { id: c.id, status: "offline" }, c.as)).rejects.toMatchObject({
			code: 409,
		});

		// Delivering one order makes room: the waiting one is taken; delivering the rest frees the courier.
		await publish("order.delivered", delivered(a, c.id));
		expect(await assignedCourier(third.orderId)).toBe(c.id);
		expect(await view(c.id)).toMatchObject({ status: "busy", load: 2, orderIds: [b.orderId, third.orderId] });
		await publish("order.delivered", delivered(b, c.id));
		await publish("order.delivered", delivered(third, c.id));
		await waitFor(async () => (await view(c.id)).status === "available");
		expect(await view(c.id)).toMatchObject({ load: 0, orderIds: [], currentOrderId: null });
		const completed = events
			.ofType("delivery.completed")
			.filter((e) => [a, b, third].some((o) => o.orderId === e.data.orderId));
		expect(completed).toHaveLength(3);
		expect(completed[0].data).toMatchObject({ courierId: c.id, supplierId: "supplier-1" });

		// A two-cylinder order does not fit beside a one-cylinder one in a two-cylinder vehicle.
		const small = confirmed(at);
		await publish("order.confirmed", small);
		expect(await assignedCourier(small.orderId)).toBe(c.id);
		const big = confirmed(at, { cylinders: 2 });
		await publish("order.confirmed", big);
		await sleep(200);
		expect(assignments(big.orderId)).toHaveLength(0);
	});

	it("offers a second order to a courier on the road with the first (in transit, reporting its position)", async () => {
		const at = newArea();
		const c = await courier(north(at, 1), { capacity: 2 });
		const first = confirmed(at);
		await publish("order.confirmed", first);
		expect(await assignedCourier(first.orderId)).toBe(c.id);
		await publish("order.in_transit", {
			orderId: first.orderId,
			customerId: first.customerId,
			supplierId: first.supplierId,
			courierId: c.id,
		} as EventMap["order.in_transit"]);
		await call("couriers.updateLocation", { id: c.id, ...north(at, 0.5), speed: 8, at: nextAt() }, c.as);
		const second = confirmed(at);
		await publish("order.confirmed", second);
		expect(await assignedCourier(second.orderId)).toBe(c.id);
	});

	it("gives one courier per order and never goes over capacity when confirmations race (each delivered twice)", async () => {
		const at = newArea();
		const couriers = await Promise.all([1, 1.2, 1.4].map((km) => courier(north(at, km), { capacity: 1 })));
		const roomy = await courier(north(at, 1.6), { capacity: 2 });
		const orders = Array.from({ length: 8 }, () => confirmed(at));
		await Promise.all([...orders, ...orders].map((o) => publish("order.confirmed", o)));
		const taken = () => orders.flatMap((o) => assignments(o.orderId));
		await waitFor(() => taken().length >= 5, 5000);
		await sleep(300);
		expect(taken()).toHaveLength(5);
		expect(new Set(taken().map((a) => a.data.orderId)).size).toBe(5);
		for (const c of [...couriers, roomy]) {
			const v = await view(c.id);
			const mine = taken()
				.filter((a) => a.data.courierId === c.id)
				.map((a) => a.data.orderId);
			expect(v.load).toBe(v.capacity);
			expect(v.orderIds.sort()).toEqual(mine.sort());
		}
		const { waiting } = await call<{ waiting: number }>("couriers.dispatchNow", {});
		expect(waiting).toBeGreaterThanOrEqual(3);
	});

	it("assigns nobody when the cancellation is handled before the confirmation, and frees a cancelled order's courier", async () => {
		const at = newArea();
		const c = await courier(north(at, 1));
		const early = confirmed(at);
		await publish("order.cancelled", cancelled(early));
		await sleep(100);
		await publish("order.confirmed", early);
		await sleep(300);
		expect(assignments(early.orderId)).toHaveLength(0);
		expect((await view(c.id)).status).toBe("available");

		const o = confirmed(at);
		await publish("order.confirmed", o);
		expect(await assignedCourier(o.orderId)).toBe(c.id);
		await publish("order.cancelled", cancelled(o, c.id));
		await waitFor(async () => (await view(c.id)).status === "available");
		expect((await view(c.id)).load).toBe(0);
	});

	it("an order delivered with no courier assigned (carried by an admin) stops waiting: no later courier is offered it", async () => {
		const at = newArea();
		const o = confirmed(at);
		const waiting = async () => (await call<{ waiting: number }>("couriers.dispatchNow", {})).waiting;
		const others = await waiting();
		await publish("order.confirmed", o);
		await waitFor(async () => (await waiting()) === others + 1);
		await publish("order.delivered", { ...delivered(o, "ignored"), courierId: null });
		await waitFor(async () => (await waiting()) === others);
		const c = await courier(north(at, 1)); // going available runs a round
		await call("couriers.dispatchNow", {});
		await sleep(200);
		expect(assignments(o.orderId)).toHaveLength(0);
		expect((await view(c.id)).status).toBe("available");
	});

	it("raises delivery.unassigned once for an order nobody takes in time, and still assigns it later", async () => {
		const at = newArea();
		const o = confirmed(at);
		await publish("order.confirmed", o);
		await waitFor(async () => (await call<{ waiting: number }>("couriers.dispatchNow", {})).waiting > 0);
		await sleep(ALERT_AFTER_MS + 50);
		await call("couriers.dispatchNow", {});
		await call("couriers.dispatchNow", {});
		const alerts = () => events.ofType("delivery.unassigned").filter((e) => e.data.orderId === o.orderId);
		await waitFor(() => alerts().length > 0);
		await sleep(200);
		expect(alerts()).toHaveLength(1);
		expect(alerts()[0].data).toMatchObject({ supplierId: "supplier-1" });

		const c = await courier(north(at, 1)); // going available runs a round
		expect(await assignedCourier(o.orderId)).toBe(c.id);
	});

	it("hands back orders a courier holds without a dispatch naming it (stale-busy sweep)", async () => {
		const { id } = await courier(newArea());
		const svc = broker.getLocalService("couriers") as unknown as {
			records: { updateOne(q: object, u: object): Promise<unknown> };
			releaseOrphanedCouriers(): Promise<number>;
		};
		const since = new Date(Date.now() - 10 * 60_000).toISOString();
		await svc.records.updateOne(
			{ _id: id },
			{ $set: { status: "busy", load: 1, "assignments.ghost-order": { cylinders: 1, since } } },
		);
		expect(await svc.releaseOrphanedCouriers()).toBeGreaterThanOrEqual(1);
		expect(await view(id)).toMatchObject({ status: "available", load: 0, orderIds: [] });
	});
});

describe("tracking", () => {
	function read(stream: PassThrough) {
		const seen: { event: string; data: Record<string, unknown> }[] = [];
		stream.on("data", (chunk: Buffer) => {
			for (const block of chunk.toString().split("\n\n")) {
				const event = /^event: (.*)$/m.exec(block);
				const data = /^data: (.*)$/m.exec(block);
				if (event && data) seen.push({ event: event[1], data: JSON.parse(data[1]) });
			}
		});
		return seen;
	}

	it("asks orders.trackingView once, refuses who may not see, streams position and status until delivery", async () => {
		const at = newArea();
		const c = await courier(north(at, 1));
		const o = confirmed(at);
		await publish("order.confirmed", o);
		await assignedCourier(o.orderId);
		views.set(o.orderId, {
			visible: true,
			status: "confirmed",
			deliveryLocation: o.deliveryLocation,
			courierId: c.id,
			customerId: "customer-1",
			supplierId: "supplier-1",
		});
		const customer = user("customer-1", "customer");

		await expect(call("couriers.track", { id: o.orderId }, user("stranger", "customer"))).rejects.toMatchObject({
			code: 403,
		});
		await expect(call("couriers.track", { id: "no-such-order" }, customer)).rejects.toMatchObject({ code: 404 });
		trackingCalls.length = 0;
		const stream = await call<PassThrough>("couriers.track", { id: o.orderId }, customer);
		expect(trackingCalls).toEqual([{ orderId: o.orderId, userId: "customer-1", role: "customer" }]);
		const seen = read(stream);
		await waitFor(() => seen.length >= 1);
		expect(seen[0]).toMatchObject({
			event: "status",
			data: { orderId: o.orderId, status: "confirmed", courierId: c.id },
		});
		expect((seen[0].data.position as { etaMinutes: number }).etaMinutes).toBeGreaterThan(0);

		// A client that goes away leaves no listener behind.
		const bus = (broker.getLocalService("couriers") as unknown as { trackingBus: EventEmitter }).trackingBus;
		const listeners = () => bus.listenerCount(`order:${o.orderId}`) + bus.listenerCount(`courier:${c.id}`);
		const leaving = await call<PassThrough>("couriers.track", { id: o.orderId }, customer);
		expect(listeners()).toBe(4);
		leaving.destroy();
		await waitFor(() => listeners() === 2);

		const onTheWay = north(at, 0.5);
		await call("couriers.updateLocation", { id: c.id, ...onTheWay, at: nextAt() }, c.as);
		await waitFor(() => seen.some((e) => e.event === "position" && e.data.lat === onTheWay.lat));
		await publish("order.delivered", delivered(o, c.id));
		await new Promise((resolve) => stream.on("end", resolve));
		expect(seen[seen.length - 1]).toMatchObject({ event: "status", data: { status: "delivered" } });
		expect(listeners()).toBe(0);
	});
});
