/**
 * The products service on a broker of its own: actions through broker.call, the supplier read model
 * through published events, and orders faked (orders.statusesFor answers from `orderStatus`).
 */
import { ServiceBroker, ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin } from "../../mixins/events.mixin";
import { countRepair, REPAIRS_METRIC } from "../../lib/infra/repairs";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";

const orderStatus = new Map<string, string>();
let ordersDown = false;
const fakeOrders: ServiceSchema = {
	name: "orders",
	actions: {
		statusesFor(ctx: any) {
			if (ordersDown) throw new Error("orders is restarting");
			return ctx.params.orderIds
				.filter((id: string) => orderStatus.has(id))
				.map((id: string) => ({ orderId: id, status: orderStatus.get(id) }));
		},
	},
};
const publisher: ServiceSchema = {
	name: "publisher",
	mixins: [DbMixin({ collection: "publisher" }), EventsMixin],
	actions: {
		publish(this: any, ctx: any) {
			return this.publishEvent(ctx.params.type, ctx.params.data, ctx);
		},
	},
};

const events = eventRecorder();
let broker: ServiceBroker;
const TTL_MS = 300;
const HOME = { lat: -23.5505, lng: -46.6333 };

beforeAll(async () => {
	broker = await startBroker({
		services: ["products"],
		extraServices: [fakeOrders, publisher, events.schema],
		env: { RESERVATION_TTL_MS: String(TTL_MS), RESERVATION_SWEEP_MS: "0", CACHER: "Memory" },
	});
});
afterAll(() => broker.stop());

let seq = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
const as = (id: string, role = "supplier") => ({ meta: { user: { id, role } } });

async function supplier(opts: { location?: { lat: number; lng: number }; openingHours?: any } = {}) {
	const supplierId = uid("sup");
	await broker.call("publisher.publish", {
		type: "supplier.created",
		data: {
			supplierId,
			name: "Gás Bom",
			location: opts.location || { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 10,
			openingHours: opts.openingHours || { open: "00:00", close: "23:59" },
		},
	});
	await waitFor(() => broker.call("products.supplierProfile", { supplierId }));
	return supplierId;
}

async function product(supplierId: string, fields: Record<string, unknown> = {}): Promise<any> {
	return broker.call("products.create", { type: "P13", priceCents: 10000, stock: 10, ...fields }, as(supplierId));
}

const stock = async (id: string) => {
	const p: any = await broker.call("products.get", { id });
	return { stock: p.stock, reserved: p.reserved };
};
const reserve = (orderId: string, supplierId: string, items: { productId: string; quantity: number }[]) =>
	broker.call("products.reserveStock", { orderId, supplierId, items, deliverTo: HOME });
const drift = () =>
	broker.call("products.stockDrift") as Promise<{ reservedUnits: number; openReservationUnits: number }>;
const sweep = () => broker.call("products.sweepReservations") as Promise<{ released: number; committed: number }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("catalog", () => {
	it("creates products (product.created recorded with the write), one per supplier and type", async () => {
		const s = await supplier();
		const p = await product(s, { depositCents: 500 });
		expect(p).toMatchObject({ supplierId: s, type: "P13", stock: 10, reserved: 0, priceWithoutExchangeCents: 10500 });
		expect(p).not.toHaveProperty("holds");
		expect(p).not.toHaveProperty("supplierType");
		await waitFor(() => events.ofType("product.created").find((e) => e.data.productId === p.id));
		await expect(product(s)).rejects.toMatchObject({ code: 409 });
		await expect(product(uid("nobody"))).rejects.toMatchObject({ code: 409, type: "SUPPLIER_NOT_ACTIVE" });
		await expect(broker.call("products.create", { type: "P99", priceCents: 1, stock: 1 }, as(s))).rejects.toMatchObject(
			{
				code: 422,
			},
		);
	});

	it("restocks with an inventory.updated event and a product.updated event; unknown products are 404", async () => {
		const s = await supplier();
		const p = await product(s, { stock: 3, type: "P45" });
		const updated: any = await broker.call("products.update", { id: p.id, priceCents: 9000, stock: 7 }, as(s));
		expect(updated).toMatchObject({ priceCents: 9000, stock: 7 });
		const restock = await waitFor(() => events.ofType("inventory.updated").find((e) => e.data.productId === p.id));
		expect(restock.data).toMatchObject({ reason: "restocked", change: 4, stock: 7, reserved: 0 });
		const changed = await waitFor(() => events.ofType("product.updated").find((e) => e.data.productId === p.id));
		expect(changed.data).toMatchObject({ priceCents: 9000, stock: 7 });
		await expect(broker.call("products.get", { id: "nope" })).rejects.toMatchObject({ code: 404 });
		await expect(broker.call("products.update", { id: "nope", priceCents: 1 }, as(s))).rejects.toMatchObject({
			code: 404,
		});
		await expect(broker.call("products.update", { id: p.id, priceCents: 1 }, as(uid("other")))).rejects.toMatchObject({
			code: 403,
		});
	});

	it("filters the comparison by type, supplier, address and stock; deleted products leave it", async () => {
		const near = await supplier();
		const far = await supplier({ location: { lat: -23.75, lng: -46.9 } });
		const a = await product(near, { type: "P8", priceCents: 9000 });
		const b = await product(far, { type: "P8", priceCents: 8000 });
		const empty = await product(near, { type: "P20", stock: 0 });
		const list = (params: Record<string, unknown>): Promise<any> => broker.call("products.list", params);
		const ids = async (params: Record<string, unknown>) => (await list(params)).rows.map((r: any) => r.id);
		expect(await ids({ type: "P8", supplierId: near })).toEqual([a.id]);
		const both = (await ids({ type: "P8" })).filter((id: string) => id === a.id || id === b.id);
		expect(both).toEqual([b.id, a.id]); // cheapest first
		expect(await ids({ type: "P8", lat: HOME.lat, lng: HOME.lng })).toContain(a.id);
		expect(await ids({ type: "P8", lat: HOME.lat, lng: HOME.lng })).not.toContain(b.id); // out of its radius
		expect(await ids({ type: "P20", supplierId: near })).toEqual([]);
		expect(await ids({ type: "P20", supplierId: near, inStock: false })).toEqual([empty.id]);
		await broker.call("products.remove", { id: a.id }, as(near));
		expect(await ids({ type: "P8", supplierId: near })).toEqual([]);
		await expect(list({ lat: 1 })).rejects.toMatchObject({ code: 422 });
		await expect(list({ sort: "distance" })).rejects.toMatchObject({ code: 422 });
	});

	it("hides a supplier that was deactivated (user.updated) and shows it again when active", async () => {
		const s = await supplier();
		const p = await product(s, { type: "P5" });
		const ids = async () => ((await broker.call("products.list", { supplierId: s })) as any).rows.map((r: any) => r.id);
		expect(await ids()).toEqual([p.id]);
		const update = (status: string) =>
			broker.call("publisher.publish", {
				type: "user.updated",
				data: { userId: s, role: "supplier", status, changed: ["status"] },
			});
		await update("suspended");
		await waitFor(async () => (await ids()).length === 0);
		await update("active");
		await waitFor(async () => (await ids()).length === 1);
	});

	it("validates params before the cache answers: 422 whether the entry is cold or warm", async () => {
		const s = await supplier();
		await product(s, { type: "P2" });
		const bad = { type: "P2", supplierId: s, query: "{}" };
		// Cold first, then warm the cache with the valid params and ask again.
		await expect(broker.call("products.list", bad)).rejects.toMatchObject({ code: 422 });
		expect(((await broker.call("products.list", { type: "P2", supplierId: s })) as any).rows).toHaveLength(1);
		await expect(broker.call("products.list", bad)).rejects.toMatchObject({ code: 422 });
		expect(((await broker.call("products.list", { type: "P2", supplierId: s })) as any).rows).toHaveLength(1);
	});
});

describe("reservations", () => {
	it("reserves once per order: a retried reserve returns the same reservation", async () => {
		const s = await supplier();
		const p = await product(s, { stock: 5 });
		const orderId = uid("o");
		const first: any = await reserve(orderId, s, [{ productId: p.id, quantity: 2 }]);
		const again: any = await reserve(orderId, s, [{ productId: p.id, quantity: 2 }]);
		expect(first).toMatchObject({ orderId, state: "reserved", items: [{ productId: p.id, quantity: 2 }] });
		expect(first.products[0]).toMatchObject({ productId: p.id, priceCents: 10000 });
		expect(again).toEqual(first);
		expect(await stock(p.id)).toEqual({ stock: 3, reserved: 2 });
		const reservedEvents = () =>
			events.ofType("inventory.updated").filter((e) => e.data.productId === p.id && e.data.reason === "reserved");
		await waitFor(() => reservedEvents().length > 0);
		await sleep(100);
		const reserved = reservedEvents();
		expect(reserved).toHaveLength(1);
		expect(reserved[0].data).toMatchObject({ change: -2, stock: 3, reserved: 2 });
	});

	it("adds up repeated items and takes all or nothing: out of stock is 409 and leaves nothing behind", async () => {
		const s = await supplier();
		const a = await product(s, { type: "P13", stock: 5 });
		const b = await product(s, { type: "P45", stock: 1 });
		const orderId = uid("o");
		await expect(
			reserve(orderId, s, [
				{ productId: a.id, quantity: 1 },
				{ productId: a.id, quantity: 2 },
				{ productId: b.id, quantity: 2 },
			]),
		).rejects.toMatchObject({ code: 409, type: "OUT_OF_STOCK", data: { productId: b.id, available: 1 } });
		expect(await stock(a.id)).toEqual({ stock: 5, reserved: 0 });
		expect(await stock(b.id)).toEqual({ stock: 1, reserved: 0 });
		// The order may try again (nothing was kept for it).
		const ok: any = await reserve(orderId, s, [
			{ productId: a.id, quantity: 1 },
			{ productId: a.id, quantity: 2 },
		]);
		expect(ok.items).toEqual([{ productId: a.id, quantity: 3 }]);
	});

	it("refuses bad requests: unknown product 422, another supplier's product 422, bad params 422", async () => {
		const s = await supplier();
		const other = await supplier();
		const theirs = await product(other);
		await expect(reserve(uid("o"), s, [{ productId: "nope", quantity: 1 }])).rejects.toMatchObject({ code: 422 });
		await expect(reserve(uid("o"), s, [{ productId: theirs.id, quantity: 1 }])).rejects.toMatchObject({ code: 422 });
		await expect(reserve(uid("o"), s, [{ productId: theirs.id, quantity: 0 }])).rejects.toMatchObject({ code: 422 });
		await expect(reserve("bad.id", s, [{ productId: theirs.id, quantity: 1 }])).rejects.toMatchObject({ code: 422 });
		await expect(reserve(uid("o"), uid("nobody"), [{ productId: theirs.id, quantity: 1 }])).rejects.toMatchObject({
			code: 409,
			type: "SUPPLIER_NOT_ACTIVE",
		});
		await expect(
			broker.call("products.reserveStock", {
				orderId: uid("o"),
				supplierId: other,
				items: [{ productId: theirs.id, quantity: 1 }],
				deliverTo: { lat: -22.9, lng: -43.2 }, // Rio: out of its radius
			}),
		).rejects.toMatchObject({ code: 422, type: "OUT_OF_DELIVERY_AREA" });
		expect(await stock(theirs.id)).toEqual({ stock: 10, reserved: 0 });
	});

	it("releases and commits idempotently; the other one afterwards is a 409", async () => {
		const s = await supplier();
		const p = await product(s, { stock: 5 });
		const cancelled = uid("o");
		const delivered = uid("o");
		await reserve(cancelled, s, [{ productId: p.id, quantity: 2 }]);
		await reserve(delivered, s, [{ productId: p.id, quantity: 1 }]);
		expect(await stock(p.id)).toEqual({ stock: 2, reserved: 3 });

		expect(await broker.call("products.releaseStock", { orderId: cancelled })).toEqual({
			orderId: cancelled,
			state: "released",
			changed: true,
		});
		expect(await broker.call("products.releaseStock", { orderId: cancelled })).toMatchObject({ changed: false });
		expect(await stock(p.id)).toEqual({ stock: 4, reserved: 1 });

		expect(await broker.call("products.commitStock", { orderId: delivered })).toMatchObject({
			state: "committed",
			changed: true,
		});
		expect(await broker.call("products.commitStock", { orderId: delivered })).toMatchObject({ changed: false });
		expect(await stock(p.id)).toEqual({ stock: 4, reserved: 0 });

		await expect(broker.call("products.commitStock", { orderId: cancelled })).rejects.toMatchObject({ code: 409 });
		await expect(broker.call("products.releaseStock", { orderId: delivered })).rejects.toMatchObject({ code: 409 });
		await expect(reserve(cancelled, s, [{ productId: p.id, quantity: 1 }])).rejects.toMatchObject({ code: 409 });
		expect(await broker.call("products.releaseStock", { orderId: uid("never") })).toMatchObject({
			state: "none",
			changed: false,
		});
		expect(await stock(p.id)).toEqual({ stock: 4, reserved: 0 });
	});

	it("never oversells when reserves race for the last cylinders", async () => {
		const s = await supplier();
		const p = await product(s, { stock: 7 });
		const results = await Promise.allSettled(
			Array.from({ length: 25 }, () => reserve(uid("o"), s, [{ productId: p.id, quantity: 1 }])),
		);
		const ok = results.filter((r) => r.status === "fulfilled");
		const refused = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
		expect(ok).toHaveLength(7);
		expect(refused.every((r) => r.reason.code === 409)).toBe(true);
		expect(await stock(p.id)).toEqual({ stock: 0, reserved: 7 });
	});

	it("keeps stock drift at 0 after a mixed flood of reserves, retries, releases and commits", async () => {
		const s = await supplier();
		const a = await product(s, { type: "P13", stock: 40 });
		const b = await product(s, { type: "P20", stock: 15 });
		const ops: Promise<unknown>[] = [];
		for (let i = 0; i < 40; i++) {
			const orderId = uid("flood");
			const items = [{ productId: a.id, quantity: 1 + (i % 3) }, ...(i % 2 ? [{ productId: b.id, quantity: 1 }] : [])];
			ops.push(
				(async () => {
					await Promise.allSettled([reserve(orderId, s, items), reserve(orderId, s, items)]);
					if (i % 3 === 0) await broker.call("products.releaseStock", { orderId }).catch(() => null);
					if (i % 3 === 1)
						await Promise.all([
							broker.call("products.commitStock", { orderId }),
							broker.call("products.commitStock", { orderId }),
						]).catch(() => null);
				})(),
			);
		}
		await Promise.all(ops);
		const d = await drift();
		expect(d.reservedUnits).toBe(d.openReservationUnits);
		const [sa, sb] = [await stock(a.id), await stock(b.id)];
		expect(sa.stock).toBeGreaterThanOrEqual(0);
		expect(sb.stock).toBeGreaterThanOrEqual(0);
	});
});

describe("the reservation sweep", () => {
	it("releases expired reservations and those of cancelled orders, commits those of confirmed or delivered ones", async () => {
		// What earlier tests left open expires and goes first.
		await sleep(TTL_MS + 50);
		await sweep();
		const s = await supplier();
		const p = await product(s, { stock: 20 });
		const expired = uid("o"); // the order was never stored
		const waiting = uid("o"); // created, not expired yet
		const cancelled = uid("o");
		const confirmed = uid("o");
		const delivered = uid("o");
		for (const id of [expired, cancelled, confirmed, delivered])
			await reserve(id, s, [{ productId: p.id, quantity: 2 }]);
		orderStatus.set(cancelled, "cancelled");
		orderStatus.set(confirmed, "confirmed");
		orderStatus.set(delivered, "delivered");
		await sleep(TTL_MS + 50);
		await reserve(waiting, s, [{ productId: p.id, quantity: 1 }]);
		orderStatus.set(waiting, "created");
		expect(await stock(p.id)).toEqual({ stock: 11, reserved: 9 });

		// Orders not answering: nothing is decided without it.
		ordersDown = true;
		expect(await sweep()).toEqual({ released: 0, committed: 0 });
		ordersDown = false;

		expect(await sweep()).toEqual({ released: 2, committed: 2 });
		expect(await stock(p.id)).toEqual({ stock: 15, reserved: 1 });
		expect(await drift()).toEqual({ reservedUnits: 1, openReservationUnits: 1 });
		expect(await sweep()).toEqual({ released: 0, committed: 0 });
		// The orders' own calls afterwards are no-ops.
		expect(await broker.call("products.releaseStock", { orderId: cancelled })).toMatchObject({ changed: false });
		expect(await broker.call("products.commitStock", { orderId: delivered })).toMatchObject({ changed: false });
		expect(await broker.call("products.releaseStock", { orderId: expired })).toMatchObject({ changed: false });
		// A confirmed order committed early and then cancelled gets its stock back, once.
		expect(await broker.call("products.releaseStock", { orderId: confirmed })).toMatchObject({
			state: "released",
			changed: true,
		});
		expect(await broker.call("products.releaseStock", { orderId: confirmed })).toMatchObject({ changed: false });
		expect(await stock(p.id)).toEqual({ stock: 17, reserved: 1 });
		await expect(broker.call("products.commitStock", { orderId: expired })).rejects.toMatchObject({ code: 409 });
	});

	it("counts repairs in gasrapido_repairs_total{kind} when metrics are on, and is a no-op when off", async () => {
		const on = new ServiceBroker({ logger: false, metrics: { enabled: true, reporter: [] } });
		await on.start();
		try {
			countRepair(on, "stock_released");
			countRepair(on, "stock_released", 2);
			const metric: any = on.metrics.getMetric(REPAIRS_METRIC);
			expect(metric.get({ kind: "stock_released" }).value).toBe(3);
		} finally {
			await on.stop();
		}
		expect(broker.isMetricsEnabled()).toBe(false);
		expect(() => countRepair(broker, "stock_released")).not.toThrow();
	});
});
