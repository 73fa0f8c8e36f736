/**
 * The reviews service with a fake orders service (trackingView), the real alerts (low ratings) and
 * products (the catalog's averages): who may rate, once per order, the totals, the supplier's page.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";
import type { Alert } from "../../lib/contracts/alerts";
import type { Role } from "../../lib/contracts/common";
import type { Order } from "../../lib/contracts/orders";
import { trackingView } from "../../lib/domain/orders";

interface FakeOrder {
	status: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
}
const orders = new Map<string, FakeOrder>();

const fakeOrders = {
	name: "orders",
	actions: {
		trackingView: {
			params: { orderId: "string", userId: "string", role: "string" },
			handler(ctx: { params: { orderId: string; userId: string; role: Role } }) {
				// The real rule on a fake order: who sees it, and what is answered.
				const o = orders.get(ctx.params.orderId);
				const order = o
					? ({ _id: ctx.params.orderId, deliveryLocation: { lat: 0, lng: 0 }, ...o } as unknown as Order)
					: null;
				return trackingView(order, { id: ctx.params.userId, role: ctx.params.role });
			},
		},
		statusesFor: { handler: () => [] },
	},
};

const as = (id: string, role: string) => ({ meta: { user: { id, role, status: "active" } } });
const customer = as("cust-1", "customer");
const admin = as("admin-1", "admin");
let seq = 0;

async function expectError(p: Promise<unknown>, code: number, type?: string) {
	const err = (await p.then(
		() => null,
		(e: unknown) => e,
	)) as { code: number; type: string } | null;
	expect(err).not.toBeNull();
	expect(err!.code).toBe(code);
	if (type) expect(err!.type).toBe(type);
}

describe("reviews service", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	const send = (type: string, data: object) =>
		(broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(type)),
			{ id: `ev-${++seq}-${Date.now()}`, type, time: new Date().toISOString(), actor: "test", requestId: null, data },
		);
	const delivered = (id: string, over: Partial<FakeOrder> = {}) => {
		orders.set(id, { status: "delivered", customerId: "cust-1", supplierId: "sup-1", courierId: "cour-1", ...over });
		return id;
	};

	beforeAll(async () => {
		broker = await startBroker({
			services: ["reviews", "alerts", "products"],
			extraServices: [fakeOrders, recorder.schema],
		});
		await broker.waitForServices(["reviews", "alerts", "products"]);
		await send("supplier.created", {
			supplierId: "sup-1",
			name: "Gás Bom",
			location: { lat: -23.55, lng: -46.63 },
			deliveryRadiusKm: 10,
			openingHours: { open: "00:00", close: "23:59" },
		});
		await waitFor(() => broker.call("products.supplierProfile", { supplierId: "sup-1" }), 5000);
		await broker.call(
			"products.create",
			{ type: "P13", priceCents: 11000, stock: 5, brand: "ultragaz" },
			as("sup-1", "supplier"),
		);
	});
	afterAll(() => broker.stop());

	test("the customer rates a delivered order once; the totals and the catalog follow", async () => {
		const catalogBefore = (await broker.call("products.list", { supplierId: "sup-1" })) as {
			rows: { supplier: { rating: number | null; ratingCount: number } }[];
		};
		expect(catalogBefore.rows[0].supplier).toMatchObject({ rating: null, ratingCount: 0 });

		const id = delivered("o-1");
		const review = await broker.call(
			"reviews.submit",
			{ orderId: id, supplierRating: 5, courierRating: 4, comment: "  Rápido!  " },
			customer,
		);
		expect(review).toMatchObject({
			id,
			supplierId: "sup-1",
			courierId: "cour-1",
			supplierRating: 5,
			comment: "Rápido!",
		});
		expect(review).not.toHaveProperty("counted");
		await expectError(
			broker.call("reviews.submit", { orderId: id, supplierRating: 1 }, customer),
			409,
			"ALREADY_RATED",
		);

		await broker.call("reviews.submit", { orderId: delivered("o-2"), supplierRating: 4 }, customer);
		const page = (await broker.call("reviews.supplierReviews", { supplierId: "sup-1", page: 1, pageSize: 10 })) as {
			rows: { orderId: string; rating: number; comment: string | null }[];
			total: number;
			summary: { average: number; count: number; histogram: number[] };
		};
		expect(page.summary).toEqual({ average: 4.5, count: 2, histogram: [0, 0, 0, 1, 1] });
		expect(page.total).toBe(2);
		expect(page.rows.map((r) => r.orderId).sort()).toEqual(["o-1", "o-2"]);
		expect(page.rows[0]).not.toHaveProperty("customerId");
		const courier = (await broker.call("reviews.courierRating", { courierId: "cour-1" }, as("cour-1", "courier"))) as {
			summary: { average: number; count: number };
		};
		expect(courier.summary).toMatchObject({ average: 4, count: 1 });
		await expectError(broker.call("reviews.courierRating", { courierId: "cour-1" }, as("cour-2", "courier")), 403);

		// rating.updated reaches products: the catalog shows the average and count, whatever order they came in
		const counts = await waitFor(() => {
			const u = recorder.ofType("rating.updated").filter((e) => e.data.subjectId === "sup-1");
			return u.length === 2 ? u.map((e): number => e.data.count).sort() : null;
		});
		expect(counts).toEqual([1, 2]);
		type Offer = { id: string; brand: string; supplier: { rating: number | null; ratingCount: number } };
		const offer = await waitFor(async () => {
			const list = (await broker.call("products.list", { supplierId: "sup-1" })) as { rows: Offer[] };
			return list.rows[0].supplier.ratingCount === 2 ? list.rows[0] : null;
		});
		expect(offer!.supplier.rating).toBe(4.5);
		expect(offer!.brand).toBe("ultragaz");
		// a late, older update does not take the average back
		await send("rating.updated", { kind: "supplier", subjectId: "sup-1", average: 5, count: 1 });
		await new Promise((r) => setTimeout(r, 300));
		const again = (await broker.call("products.get", { id: offer!.id })) as {
			supplier: { rating: number; ratingCount: number };
		};
		expect(again.supplier).toMatchObject({ rating: 4.5, ratingCount: 2 });
	});

	test("nobody but the order's customer may rate it, and only once it is delivered", async () => {
		const id = delivered("o-3");
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 5 }, as("cust-2", "customer")), 403);
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 5 }, as("sup-1", "supplier")), 403);
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 5 }, admin), 403);
		await expectError(broker.call("reviews.submit", { orderId: "nope", supplierRating: 5 }, customer), 404);
		orders.set("o-4", { status: "in_transit", customerId: "cust-1", supplierId: "sup-1", courierId: "cour-1" });
		await expectError(
			broker.call("reviews.submit", { orderId: "o-4", supplierRating: 5 }, customer),
			409,
			"NOT_DELIVERED",
		);
		delivered("o-5", { courierId: null });
		await expectError(
			broker.call("reviews.submit", { orderId: "o-5", supplierRating: 5, courierRating: 5 }, customer),
			422,
		);
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 6 }, customer), 422);
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 0 }, customer), 422);
		await expectError(broker.call("reviews.submit", { orderId: id, supplierRating: 3, extra: 1 }, customer), 422);
		// the order's parties read its review; others may not
		await expectError(broker.call("reviews.forOrder", { orderId: id }, customer), 404);
		await broker.call("reviews.submit", { orderId: id, supplierRating: 3 }, customer);
		await expect(broker.call("reviews.forOrder", { orderId: id }, as("sup-1", "supplier"))).resolves.toMatchObject({
			supplierRating: 3,
		});
		await expectError(broker.call("reviews.forOrder", { orderId: id }, as("sup-2", "supplier")), 403);
	});

	test("a rating of 2 or less raises one low_rating alert for admins; a good one none", async () => {
		await broker.call("reviews.submit", { orderId: delivered("o-6"), supplierRating: 5, courierRating: 1 }, customer);
		await broker.call("reviews.submit", { orderId: delivered("o-7"), supplierRating: 4, courierRating: 3 }, customer);
		const list = async () =>
			(
				(await broker.call("alerts.list", { rule: "low_rating", pageSize: 100 }, admin)) as {
					rows: (Alert & { id: string })[];
				}
			).rows;
		const alert = (await waitFor(async () => (await list()).find((a) => a.key === "low_rating:o-6"), 5000))!;
		expect(alert.summary).toContain("courier cour-1 1/5");
		expect(alert.details).toMatchObject({ orderId: "o-6", courierRating: 1 });
		await waitFor(() => recorder.ofType("review.submitted").some((e) => e.data.orderId === "o-7"));
		await new Promise((r) => setTimeout(r, 300));
		expect((await list()).filter((a) => a.key === "low_rating:o-7")).toHaveLength(0);
		expect(recorder.ofType("review.submitted").find((e) => e.data.orderId === "o-6")!.data.low).toBe(true);
	});

	test("recount rebuilds a subject's totals from its reviews", async () => {
		const summary = await broker.call("reviews.recount", { kind: "courier", subjectId: "cour-1" });
		const courier = (await broker.call("reviews.courierRating", { courierId: "cour-1" }, admin)) as {
			summary: unknown;
		};
		expect(courier.summary).toEqual(summary);
		expect(summary).toMatchObject({ count: 3, histogram: [1, 0, 1, 1, 0] });
	});
});
