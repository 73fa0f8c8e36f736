/**
 * Job offers (DISPATCH_OFFER_MS > 0): the nearest courier is offered a confirmed order and holds
 * room for it; it accepts (courier.assigned) or declines (the next courier is offered it), and an
 * offer left unanswered expires and moves on. The couriers service on a broker of its own, order
 * events published on the durable topics, orders faked.
 */
import { ServiceBroker, ServiceSchema } from "moleculer";
import type { CourierOffer, CourierView } from "../../lib/contracts/couriers";
import type { EventMap, EventName } from "../../lib/contracts/events";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { publisher } from "../helpers/publisher";

jest.setTimeout(30000);

type Point = { lat: number; lng: number };
const OFFER_MS = 600;

const fakeOrders: ServiceSchema = { name: "orders", actions: { trackingView: () => null } };

const events = eventRecorder();
let broker: ServiceBroker;
beforeAll(async () => {
	broker = await startBroker({
		services: ["couriers"],
		extraServices: [fakeOrders, publisher, events.schema],
		env: { DISPATCH_OFFER_MS: String(OFFER_MS), DISPATCH_RETRY_MS: "150", TRACK_HEARTBEAT_MS: "60000" },
	});
});
afterAll(() => broker.stop());

let seq = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
let area = 0;
const newArea = (): Point => ({ lat: -5 - ++area, lng: -40 });
const north = (from: Point, km: number): Point => ({ lat: from.lat + km / 111.19, lng: from.lng });
const as = (id: string) => ({
	meta: { user: { id, role: "courier", status: "active", mfa: false, mfaEnabled: false } },
});
const call = <T>(action: string, params: object, opts: object): Promise<T> =>
	broker.call(action, params, opts) as Promise<T>;
const publish = <K extends EventName>(type: K, data: EventMap[K]) => broker.call("publisher.publish", { type, data });
let lastAt = 0;
const nextAt = () => new Date((lastAt = Math.max(Date.now(), lastAt + 1))).toISOString();

async function courier(at: Point, capacity = 2) {
	const id = uid("courier");
	await call("couriers.create", { vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity }, as(id));
	await call("couriers.updateLocation", { id, ...at, speed: 8, at: nextAt() }, as(id));
	await call("couriers.setStatus", { id, status: "available" }, as(id));
	return id;
}

const confirmed = (supplierLocation: Point): EventMap["order.confirmed"] => ({
	orderId: uid("order"),
	customerId: "customer-1",
	supplierId: "supplier-1",
	totalCents: 12000,
	paymentMethod: "cash",
	cylinders: 1,
	deliveryLocation: north(supplierLocation, -2),
	supplierLocation,
	confirmedAt: new Date().toISOString(),
	promisedBy: null,
});

const offersOf = (id: string) =>
	call<{ rows: CourierOffer[]; offerSeconds: number }>("couriers.offers", { id }, as(id)).then((r) => r.rows);
const offeredTo = (id: string, orderId: string) =>
	waitFor(async () => (await offersOf(id)).find((o) => o.orderId === orderId), 5000);
const assigned = (orderId: string) => events.ofType("courier.assigned").filter((e) => e.data.orderId === orderId);
const view = (id: string) => call<CourierView>("couriers.get", { id }, as(id));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("offers the order to the nearest courier, who accepts it within the time: then it is assigned, once", async () => {
	const at = newArea();
	const near = await courier(north(at, 0.5));
	const o = confirmed(at);
	await publish("order.confirmed", o);
	const offer = await offeredTo(near, o.orderId);
	expect(offer).toMatchObject({
		cylinders: 1,
		totalCents: 12000,
		paymentMethod: "cash",
		toPickupKm: 0.5,
		pickupToDeliveryKm: 2,
	});
	expect(Date.parse(offer!.expiresAt) - Date.now()).toBeLessThanOrEqual(OFFER_MS);
	expect(assigned(o.orderId)).toHaveLength(0);
	// The offer holds the courier's room.
	expect(await view(near)).toMatchObject({ status: "busy", load: 1 });

	const other = uid("courier");
	await expect(call("couriers.acceptOffer", { id: near, orderId: o.orderId }, as(other))).rejects.toMatchObject({
		code: 403,
	});
	await expect(call("couriers.acceptOffer", { id: near, orderId: o.orderId }, as(near))).resolves.toMatchObject({
		status: "assigned",
	});
	await waitFor(() => assigned(o.orderId).length === 1, 3000);
	expect(assigned(o.orderId)[0].data.courierId).toBe(near);
	await expect(call("couriers.acceptOffer", { id: near, orderId: o.orderId }, as(near))).rejects.toMatchObject({
		code: 409,
	});
	expect(await offersOf(near)).toEqual([]);
});

it("a declined offer goes to the next courier, never back to the one who declined; the decliner is free again", async () => {
	const at = newArea();
	const first = await courier(north(at, 0.3));
	const second = await courier(north(at, 1.5));
	const o = confirmed(at);
	await publish("order.confirmed", o);
	await offeredTo(first, o.orderId);
	expect(await offersOf(second)).toEqual([]);
	await call("couriers.declineOffer", { id: first, orderId: o.orderId }, as(first));
	expect(await view(first)).toMatchObject({ status: "available", load: 0 });
	await offeredTo(second, o.orderId);
	await expect(call("couriers.acceptOffer", { id: first, orderId: o.orderId }, as(first))).rejects.toMatchObject({
		code: 409,
	});
	await sleep(OFFER_MS + 400);
	// Nobody answered the second offer: it expired, and neither courier is offered the order again.
	expect(await offersOf(first)).toEqual([]);
	expect(await offersOf(second)).toEqual([]);
	expect(await view(second)).toMatchObject({ status: "available", load: 0 });
	expect(assigned(o.orderId)).toHaveLength(0);
});

it("an unanswered offer expires and moves on; a late yes is refused", async () => {
	const at = newArea();
	const sleepy = await courier(north(at, 0.2));
	const o = confirmed(at);
	await publish("order.confirmed", o);
	await offeredTo(sleepy, o.orderId);
	const awake = await courier(north(at, 3));
	await sleep(OFFER_MS + 50);
	await expect(call("couriers.acceptOffer", { id: sleepy, orderId: o.orderId }, as(sleepy))).rejects.toMatchObject({
		code: 409,
	});
	await offeredTo(awake, o.orderId);
	await call("couriers.acceptOffer", { id: awake, orderId: o.orderId }, as(awake));
	await waitFor(() => assigned(o.orderId).length === 1, 3000);
	expect(assigned(o.orderId)[0].data.courierId).toBe(awake);
});

it("a courier with room for two is offered a second order while it carries the first", async () => {
	const at = newArea();
	const c = await courier(north(at, 0.5), 2);
	const [a, b] = [confirmed(at), confirmed(at)];
	await publish("order.confirmed", a);
	await offeredTo(c, a.orderId);
	await call("couriers.acceptOffer", { id: c, orderId: a.orderId }, as(c));
	await publish("order.confirmed", b);
	await offeredTo(c, b.orderId);
	await call("couriers.acceptOffer", { id: c, orderId: b.orderId }, as(c));
	await waitFor(() => assigned(b.orderId).length === 1, 3000);
	expect(await view(c)).toMatchObject({ status: "busy", load: 2, orderIds: [a.orderId, b.orderId] });
});
