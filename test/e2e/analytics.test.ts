/**
 * Analytics over HTTP: figures bucketed from the event stream (platform-wide and per supplier,
 * suppliers seeing only their own), reports as JSON and CSV, Prometheus business metrics, and
 * idempotency: redelivering every event changes no figure.
 */
import { ServiceBroker } from "moleculer";
import net from "net";
import { ADMIN, eventRecorder, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { eventPublisher } from "../helpers/events";
import { channelName } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";
import { parseCsv } from "../../lib/domain/csv";

const probe = eventPublisher();

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

function freePort(): Promise<number> {
	return new Promise((resolve) => {
		const server = net.createServer().listen(0, "127.0.0.1", () => {
			const port = (server.address() as net.AddressInfo).port;
			server.close(() => resolve(port));
		});
	});
}

describe("analytics", () => {
	let broker: ServiceBroker;
	let api: ReturnType<typeof client>;
	let adminToken: string;
	const recorder = eventRecorder();
	const tokens: Record<string, string> = {};
	const ids: Record<string, string> = {};

	const publish = (type: string, data: Record<string, any>) => broker.call("probe.publish", { type, data });

	async function createUser(key: string, role: string) {
		const email = `${key}@example.com`;
		const user: any = await broker.call("users.create", { email, password: "cylinder-pass-123", name: key, role });
		ids[key] = user.id;
		tokens[key] = (await api.post("/api/auth/login", { email, password: "cylinder-pass-123" })).body.token;
	}

	beforeAll(async () => {
		broker = await startBroker({
			services: ["api", "users", "analytics"],
			extraServices: [probe as any, recorder.schema],
		});
		api = client(gatewayUrl(broker));
		adminToken = (await waitFor(() => api.post("/api/auth/login", ADMIN).then((r) => r.body.token))) as string;
		await createUser("s1", "supplier");
		await createUser("s2", "supplier");
		await createUser("c1", "customer");

		const s1 = ids.s1;
		const s2 = ids.s2;
		for (const orderId of ["o1", "o2", "o3"])
			await publish("order.created", { orderId, supplierId: s1, customerId: ids.c1, totalCents: 10000 });
		await publish("order.created", { orderId: "o4", supplierId: s2, customerId: ids.c1, totalCents: 8000 });
		await publish("order.confirmed", { orderId: "o1", supplierId: s1, confirmedAt: minutesAgo(20) });
		await publish("order.confirmed", { orderId: "o2", supplierId: s1, confirmedAt: minutesAgo(40) });
		await publish("payment.processed", {
			paymentId: "p1",
			orderId: "o1",
			supplierId: s1,
			amountCents: 10000,
			status: "captured",
		});
		await publish("payment.processed", {
			paymentId: "p2",
			orderId: "o2",
			supplierId: s1,
			amountCents: 5000,
			status: "captured",
		});
		await publish("payment.processed", {
			paymentId: "p3",
			orderId: "o3",
			supplierId: s1,
			amountCents: 7000,
			status: "authorized",
		});
		await publish("courier.assigned", { orderId: "o1", supplierId: s1, courierId: "k1", waitedSeconds: 30 });
		await publish("courier.assigned", { orderId: "o2", supplierId: s1, courierId: "k2", waitedSeconds: 90 });
		const deliveredAt = minutesAgo(0);
		await publish("order.delivered", {
			orderId: "o1",
			supplierId: s1,
			courierId: "k1",
			confirmedAt: minutesAgo(20),
			deliveredAt,
			promisedBy: minutesAgo(-30),
		});
		await publish("order.delivered", {
			orderId: "o2",
			supplierId: s1,
			courierId: "k2",
			confirmedAt: minutesAgo(40),
			deliveredAt,
			promisedBy: minutesAgo(5),
		});
		await publish("order.cancelled", { orderId: "o3", supplierId: s1, reason: 'customer, changed "mind"' });
		await publish("order.cancelled", { orderId: "o4", supplierId: s2, reason: "payment_failed" });
		// refunds carry no supplier: analytics finds it from the order's earlier facts
		await publish("refund.processed", { paymentId: "p2", refundId: "r1", orderId: "o2", amountCents: 2000 });
		await waitFor(() =>
			broker.call("analytics.factOf", { eventId: recorder.ofType("refund.processed")[0]?.id || "-" }),
		);
	});

	afterAll(() => broker.stop());

	test("platform-wide figures by hour: orders, revenue, refunds, delivery minutes, assignment, couriers, users", async () => {
		const res = await api.get("/api/analytics/metrics?granularity=hour", { token: adminToken });
		expect(res.status).toBe(200);
		expect(res.body.buckets).toHaveLength(25);
		expect(res.body.totals).toMatchObject({
			ordersCreated: 4,
			ordersConfirmed: 2,
			ordersDelivered: 2,
			ordersCancelled: 2,
			revenueCents: 15000,
			refundsCents: 2000,
			netRevenueCents: 13000,
			lateDeliveries: 1,
			activeCouriers: 2,
		});
		expect(res.body.totals.deliveryMinutes).toMatchObject({ count: 2, mean: 30, p50: 20, max: 40 });
		expect(res.body.totals.assignSeconds).toMatchObject({ count: 2, mean: 60, p90: 90 });
		// admin (created at start), s1, s2 suppliers and a customer
		expect(res.body.totals.newUsers).toMatchObject({ supplier: 2, customer: 1 });
		const sumCreated = res.body.buckets.reduce((n: number, b: any) => n + b.ordersCreated, 0);
		expect(sumCreated).toBe(4);
	});

	test("per supplier: an admin filters; a supplier sees only its own", async () => {
		const s1 = (await api.get(`/api/analytics/metrics?supplierId=${ids.s1}&granularity=day`, { token: adminToken }))
			.body;
		expect(s1.totals).toMatchObject({ ordersCreated: 3, ordersCancelled: 1, revenueCents: 15000, refundsCents: 2000 });
		const own = await api.get("/api/analytics/metrics?granularity=day", { token: tokens.s2 });
		expect(own.status).toBe(200);
		expect(own.body.supplierId).toBe(ids.s2);
		expect(own.body.totals).toMatchObject({ ordersCreated: 1, ordersCancelled: 1, revenueCents: 0 });
		expect((await api.get(`/api/analytics/metrics?supplierId=${ids.s1}`, { token: tokens.s2 })).status).toBe(403);
		expect((await api.get("/api/analytics/metrics", { token: tokens.c1 })).status).toBe(403);
		expect((await api.get("/api/analytics/metrics")).status).toBe(401);
	});

	test("bad ranges and parameters are 422", async () => {
		const bad = [
			"?granularity=week",
			"?from=yesterday",
			`?from=${minutesAgo(0)}&to=${minutesAgo(60)}`,
			"?from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&granularity=hour",
			"?foo=1",
		];
		for (const query of bad)
			expect((await api.get(`/api/analytics/metrics${query}`, { token: adminToken })).status).toBe(422);
	});

	test("a sales report is stored as JSON and CSV, listed, downloadable, and announced", async () => {
		const res = await api.post("/api/analytics/reports", { kind: "sales_by_supplier" }, { token: adminToken });
		expect(res.status).toBe(201);
		expect(res.body.rows[0]).toMatchObject({
			supplierId: ids.s1,
			ordersCreated: 3,
			revenueCents: 15000,
			netRevenueCents: 13000,
		});
		const download = await api.get(`/api/analytics/reports/${res.body.id}/download?format=csv`, { token: adminToken });
		expect(download.status).toBe(200);
		expect(download.headers.get("content-type")).toMatch(/text\/csv/);
		const rows = parseCsv(download.text);
		expect(rows[0]).toEqual([
			"supplierId",
			"ordersCreated",
			"ordersConfirmed",
			"ordersDelivered",
			"ordersCancelled",
			"revenueCents",
			"refundsCents",
			"netRevenueCents",
		]);
		expect(rows[1]).toEqual([ids.s1, "3", "2", "2", "1", "15000", "2000", "13000"]);
		expect(rows[2]).toEqual([ids.s2, "1", "0", "0", "1", "0", "0", "0"]);
		const announced = await waitFor(() =>
			recorder.ofType("report.generated").find((e) => e.data.reportId === res.body.id),
		);
		expect(announced.data).toMatchObject({ kind: "sales_by_supplier", requestedBy: expect.any(String) });
		const list = await api.get("/api/analytics/reports", { token: adminToken });
		expect(list.body.rows.map((r: any) => r.id)).toContain(res.body.id);
		expect(list.body.rows[0].rows).toBeUndefined();
		expect((await api.get(`/api/analytics/reports/${res.body.id}/download`, { token: tokens.s1 })).status).toBe(403);
		expect((await api.get(`/api/analytics/reports/nope/download`, { token: adminToken })).status).toBe(404);
	});

	test("cancellation and delivery reports; a supplier's report covers only itself", async () => {
		const cancels = await api.post("/api/analytics/reports", { kind: "cancellations" }, { token: adminToken });
		const csv = (await api.get(`/api/analytics/reports/${cancels.body.id}/download`, { token: adminToken })).text;
		expect(csv).toContain(`${ids.s1},"customer, changed ""mind""",1`);
		expect(parseCsv(csv)).toContainEqual([ids.s2, "payment_failed", "1"]);

		const perf = await api.post("/api/analytics/reports", { kind: "delivery_performance" }, { token: tokens.s1 });
		expect(perf.status).toBe(201);
		expect(perf.body.supplierId).toBe(ids.s1);
		expect(perf.body.rows).toEqual([
			expect.objectContaining({
				supplierId: ids.s1,
				deliveries: 2,
				meanMinutes: 30,
				p50Minutes: 20,
				p90Minutes: 40,
				lateDeliveries: 1,
				lateRate: 0.5,
			}),
		]);
		expect((await api.get("/api/analytics/reports", { token: tokens.s1 })).body.rows.map((r: any) => r.id)).toEqual([
			perf.body.id,
		]);
		expect((await api.post("/api/analytics/reports", { kind: "everything" }, { token: adminToken })).status).toBe(422);
		expect(
			(await api.post("/api/analytics/reports", { kind: "cancellations", supplierId: ids.s2 }, { token: tokens.s1 }))
				.status,
		).toBe(403);
	});

	test("redelivering every event through the topic changes no figure", async () => {
		// (straight to the handler, bypassing the ledger: test/service/analytics.test.ts)
		const before = (await api.get("/api/analytics/metrics?granularity=day", { token: adminToken })).body.totals;
		const envelopes = [...new Map(recorder.seen.map((e) => [e.id, e])).values()];
		for (const envelope of envelopes)
			await (broker as any).sendToChannel(channelName(topicOf(envelope.type)), envelope);
		await new Promise((r) => setTimeout(r, 200));
		expect((await api.get("/api/analytics/metrics?granularity=day", { token: adminToken })).body.totals).toEqual(
			before,
		);
	});
});

describe("analytics as Prometheus metrics", () => {
	let broker: ServiceBroker;
	let port: number;

	beforeAll(async () => {
		port = await freePort();
		broker = await startBroker({
			services: ["analytics"],
			extraServices: [probe as any],
			env: { METRICS_PORT: String(port) },
		});
	});
	afterAll(() => broker.stop());

	test("orders by status, revenue and the delivery-time histogram are scraped from /metrics, counted once", async () => {
		const publish = (type: string, data: Record<string, any>) => broker.call("probe.publish", { type, data });
		await publish("order.created", { orderId: "m1", supplierId: "s" });
		const delivered: any = await publish("order.delivered", {
			orderId: "m1",
			supplierId: "s",
			confirmedAt: minutesAgo(25),
			deliveredAt: minutesAgo(0),
		});
		await publish("payment.processed", { orderId: "m1", supplierId: "s", amountCents: 4200, status: "captured" });
		await waitFor(() => broker.call("analytics.factOf", { eventId: delivered.id }));
		// delivered a second time: counted once
		await (broker as any).sendToChannel(channelName(topicOf(delivered.type)), delivered);

		const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
		const text = await waitFor(async () => {
			const body = await scrape();
			return /gasrapido_revenue_cents_total\{[^}]*\} 4200/.test(body) && body;
		});
		expect(text).toMatch(/gasrapido_orders_total\{[^}]*status="created"\} 1/);
		expect(text).toMatch(/gasrapido_orders_total\{[^}]*status="delivered"\} 1/);
		// recorded in minutes, exported in Prometheus's base unit: 25 minutes → 1500 s
		expect(text).toMatch(/gasrapido_delivery_seconds_bucket\{[^}]*le="1800"\} 1/);
		expect(text).toMatch(/gasrapido_delivery_seconds_bucket\{[^}]*le="1200"\} 0/);
		expect(text).toMatch(/gasrapido_delivery_seconds_count\{[^}]*\} 1/);
	});
});
