/**
 * Watching real flows: the whole marketplace (users, products, orders, payments, couriers) with
 * notifications, analytics and alerts, driven over HTTP. An order delivered end to end, a declined
 * card, low stock, an order nobody delivers on time; then every event is delivered a second time
 * and nothing changes.
 */
import { SMTPServer } from "smtp-server";
import { Mail, startSmtp } from "../helpers/smtp";
import { AddressInfo } from "net";
import {
	adminToken,
	CARDS,
	createProduct,
	createSupplier,
	login,
	Market,
	MARKET_SERVICES,
	orderBody,
	startMarket,
	waitForStatus,
} from "../helpers/market";
import { ADMIN, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";
import { parseCsv } from "../../lib/domain/csv";

jest.setTimeout(30000);

const later = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
const north = (from: { lat: number; lng: number }, km: number) => ({ lat: from.lat + km / 111.19, lng: from.lng });
const SAO_PAULO = { lat: -23.56, lng: -46.64 };

describe("watching real marketplace flows", () => {
	let m: Market;
	let smtp: SMTPServer;
	const mails: Mail[] = [];
	let admin: string;
	let supplier: { id: string; token: string };
	let customer: { id: string; token: string; email: string };
	let courier: { id: string; token: string };
	let product: any;
	const orders: Record<string, { id: string; handoverCode: string }> = {};

	const inbox = async (token: string) => (await m.api.get("/api/notifications?pageSize=100", { token })).body.rows;
	const templatesIn = async (token: string) => (await inbox(token)).map((n: any) => n.template);
	const openAlerts = async () => (await m.api.get("/api/alerts?status=open&pageSize=100", { token: admin })).body.rows;
	const alertFor = (key: string) => waitFor(async () => (await openAlerts()).find((a: any) => a.key === key));

	async function order(paymentToken = CARDS.success) {
		const res = await m.api.post("/api/orders", orderBody(supplier.id, product.id, { paymentToken }), {
			token: customer.token,
		});
		expect(res.status).toBe(201);
		return res.body as { id: string; handoverCode: string };
	}

	async function courierOf(orderId: string) {
		return waitFor(async () => (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body.courierId);
	}

	beforeAll(async () => {
		smtp = await startSmtp(mails);
		const port = (smtp.server.address() as AddressInfo).port;
		m = await startMarket(
			{
				SMTP_URL: `smtp://127.0.0.1:${port}`,
				NOTIFY_RETRY_BASE_MS: "20",
				DISPATCH_RETRY_MS: "60000",
				DISPATCH_ALERT_AFTER_MS: "600000",
			},
			[...MARKET_SERVICES, "couriers", "invitations", "notifications", "analytics", "alerts"],
		);
		admin = await adminToken(m.api);
		supplier = await createSupplier(m, { location: SAO_PAULO, deliveryRadiusKm: 10 });
		product = await createProduct(m, supplier.token, { stock: 4, lowStockThreshold: 2, priceCents: 11000 });

		const email = "john@example.com";
		const reg = await m.api.post("/api/users", { email, password: "customer-pass-1", name: "John", locale: "en" });
		expect(reg.status).toBe(201);
		customer = { id: reg.body.id, email, token: await login(m.api, email, "customer-pass-1") };

		const user: any = await m.broker.call("users.create", {
			email: "rider@example.com",
			password: "courier-pass-1",
			name: "Rider",
			role: "courier",
			status: "active",
		});
		courier = { id: user.id, token: await login(m.api, "rider@example.com", "courier-pass-1") };
		expect(
			(
				await m.api.post(
					"/api/couriers",
					{ vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: 4 },
					{ token: courier.token },
				)
			).status,
		).toBe(201);
		const at = { ...north(SAO_PAULO, 0.5), accuracy: 5, speed: 8, heading: 0, at: new Date().toISOString() };
		expect((await m.api.put(`/api/couriers/${courier.id}/location`, at, { token: courier.token })).status).toBe(202);
		expect(
			(await m.api.put(`/api/couriers/${courier.id}/status`, { status: "available" }, { token: courier.token })).status,
		).toBe(200);

		// Two payments are enough to judge the failure rate in this test.
		expect((await m.api.put("/api/alerts/rules/payment_failure_rate", { minSample: 2 }, { token: admin })).status).toBe(
			200,
		);
	});

	afterAll(async () => {
		await m.stop();
		await new Promise((resolve) => smtp.close(() => resolve(null)));
	});

	test("an invitee receives the invitation link by e-mail", async () => {
		const res = await m.api.post(
			"/api/invites",
			{ email: "newcourier@example.com", role: "courier", message: "Bem-vindo!" },
			{ token: admin },
		);
		expect(res.status).toBe(201);
		const invite = m.events.ofType("invitation.created").find((e) => e.data.inviteId === res.body.id);
		const mail = await waitFor(() => mails.find((x) => x.to.includes("newcourier@example.com")));
		const text = mail!.raw
			.replace(/=\r?\n/g, "")
			.replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
		expect(text).toContain(`http://localhost:3000/#/register?invite=${invite.data.code}`);
		expect(text).toContain("como entregador");
	});

	test("an order delivered end to end: everyone is told, in their language and by e-mail", async () => {
		const o = await order();
		orders.delivered = o;
		await waitForStatus(m, o.id, customer.token, "confirmed");
		expect(await courierOf(o.id)).toBe(courier.id);
		expect(
			(await m.api.put(`/api/orders/${o.id}/status`, { status: "in_transit" }, { token: courier.token })).status,
		).toBe(200);
		const done = await m.api.put(
			`/api/orders/${o.id}/status`,
			{ status: "delivered", handoverCode: o.handoverCode },
			{ token: courier.token },
		);
		expect(done.status).toBe(200);

		const customerTemplates = await waitFor(async () => {
			const t = await templatesIn(customer.token);
			return t.includes("order_delivered") && t;
		});
		expect(customerTemplates).toEqual(
			expect.arrayContaining(["order_confirmed", "courier_on_the_way", "order_in_transit", "order_delivered"]),
		);
		const confirmedMsg = (await inbox(customer.token)).find((n: any) => n.template === "order_confirmed");
		expect(confirmedMsg.subject).toMatch(/^Order #[A-Z0-9_-]{6} confirmed$/i);
		expect(await waitFor(async () => (await templatesIn(supplier.token)).includes("new_order"))).toBe(true);
		const supplierMsg = (await inbox(supplier.token)).find((n: any) => n.template === "new_order");
		expect(supplierMsg.subject).toMatch(/^Novo pedido/);
		expect(await waitFor(async () => (await templatesIn(courier.token)).includes("new_assignment"))).toBe(true);

		const mail = await waitFor(() =>
			mails.find((x) => x.to.includes(customer.email) && x.raw.includes(confirmedMsg.subject)),
		);
		expect(mail!.raw).toContain(`Subject: ${confirmedMsg.subject}`);
	});

	test("the delivered order shows in the supplier's figures and reports", async () => {
		const figures = await waitFor(async () => {
			const res = await m.api.get("/api/analytics/metrics?granularity=day", { token: supplier.token });
			return res.body.totals.ordersDelivered === 1 && res.body;
		});
		expect(figures.totals).toMatchObject({
			ordersCreated: 1,
			ordersConfirmed: 1,
			ordersDelivered: 1,
			lateDeliveries: 0,
			activeCouriers: 1,
		});
		expect(figures.totals.revenueCents).toBeGreaterThanOrEqual(11000);
		expect(figures.totals.deliveryMinutes.count).toBe(1);
		expect(figures.totals.assignSeconds.count).toBe(1);

		const report = await m.api.post("/api/analytics/reports", { kind: "sales_by_supplier" }, { token: admin });
		expect(report.status).toBe(201);
		const csv = parseCsv(
			(await m.api.get(`/api/analytics/reports/${report.body.id}/download?format=csv`, { token: admin })).text,
		);
		const row = csv.find((r) => r[0] === supplier.id)!;
		expect(row.slice(1, 5)).toEqual(["1", "1", "1", "0"]);
		expect(Number(row[5])).toBe(figures.totals.revenueCents);
	});

	test("a declined card: the customer is told, the cancellation is reported with its reason, the failure rate alerts admins", async () => {
		const o = await order(CARDS.declined);
		orders.declined = o;
		await waitForStatus(m, o.id, customer.token, "cancelled");
		await waitFor(async () => {
			const t = await templatesIn(customer.token);
			return t.includes("payment_declined") && t.includes("order_cancelled");
		});
		const declined = (await inbox(customer.token)).find((n: any) => n.template === "payment_declined");
		expect(declined.body).toContain("was declined: card_declined");

		const report = await waitFor(async () => {
			const res = await m.api.post("/api/analytics/reports", { kind: "cancellations" }, { token: admin });
			return res.body.rows.length > 0 && res.body;
		});
		expect(report.rows).toEqual([
			{ supplierId: supplier.id, reason: "payment_failed: card_declined", cancellations: 1 },
		]);

		// one captured and one declined payment: 50% ≥ the 50% threshold
		const alert = await alertFor("payment_failure_rate");
		expect(alert).toMatchObject({ severity: "critical", level: 1 });
		expect(await waitFor(async () => (await templatesIn(admin)).includes("alert_triggered"))).toBe(true);
		await waitFor(() => mails.some((x) => x.to.includes(ADMIN.email) && x.raw.includes("payment_failure_rate")));
	});

	test("low stock: the supplier is told and an alert is raised once per product", async () => {
		// 4 in stock, one delivered, one released by the declined order: 3 left; one more order → 2 ≤ threshold
		const o = await order();
		orders.late = o;
		await waitForStatus(m, o.id, customer.token, "confirmed");
		const alert = await alertFor(`low_stock:${product.id}`);
		expect(alert.summary).toContain("has 2 available (threshold 2)");
		const msg = await waitFor(async () => (await inbox(supplier.token)).find((n: any) => n.template === "low_stock"));
		expect(msg.body).toContain("Restam 2 unidades");
	});

	test("an order not delivered by its promised time raises an alert that escalates, then resolves on delivery", async () => {
		const o = orders.late;
		await courierOf(o.id);
		expect(
			(await m.api.put(`/api/orders/${o.id}/status`, { status: "in_transit" }, { token: courier.token })).status,
		).toBe(200);
		await broker().call("alerts.evaluateTimers", { now: later(30) });
		expect((await openAlerts()).find((a: any) => a.key === `late_delivery:${o.id}`)).toBeUndefined();
		await broker().call("alerts.evaluateTimers", { now: later(61) });
		const alert = await alertFor(`late_delivery:${o.id}`);
		expect((await openAlerts()).find((a: any) => a.key === `late_delivery:${orders.delivered.id}`)).toBeUndefined();

		await broker().call("alerts.escalateDue", { now: later(61 + 31) });
		const escalated = (await m.api.get(`/api/alerts/${alert.id}`, { token: admin })).body;
		expect(escalated.level).toBe(2);
		await waitFor(async () =>
			(await inbox(admin)).some(
				(n: any) => n.template === "alert_escalated" && n.body.includes(`late_delivery:${o.id}`),
			),
		);

		const done = await m.api.put(
			`/api/orders/${o.id}/status`,
			{ status: "delivered", handoverCode: o.handoverCode },
			{ token: courier.token },
		);
		expect(done.status).toBe(200);
		const resolved = await waitFor(async () => {
			const a = (await m.api.get(`/api/alerts/${alert.id}`, { token: admin })).body;
			return a.status === "resolved" && a;
		});
		expect(resolved).toMatchObject({ resolvedBy: "system", note: "delivered" });
		const figures = (await m.api.get("/api/analytics/metrics?granularity=day", { token: supplier.token })).body.totals;
		expect(figures.ordersDelivered).toBe(2);
	});

	test("every event delivered a second time changes no figure, sends no message and raises no alert", async () => {
		// (handlers called straight, bypassing the ledger: test/service/{notifications,analytics,alerts}.test.ts)
		const tokens = () => [admin, supplier.token, customer.token, courier.token];
		await waitFor(async () => {
			for (const token of tokens())
				for (const channel of ["email", "sms", "push"]) {
					const rows = (await m.api.get(`/api/notifications?channel=${channel}&pageSize=100`, { token })).body.rows;
					if (!rows.every((n: any) => n.status === "sent" || n.status === "failed")) return false;
				}
			return true;
		}, 8000);
		const snapshot = async () => {
			const notifications: Record<string, number> = {};
			for (const [i, token] of tokens().entries())
				for (const channel of ["inapp", "email", "sms", "push"])
					notifications[`${i}:${channel}`] = (
						await m.api.get(`/api/notifications?channel=${channel}&pageSize=100`, { token })
					).body.total;
			return {
				notifications,
				mails: mails.length,
				figures: (await m.api.get("/api/analytics/metrics?granularity=day", { token: admin })).body.totals,
				alerts: (await m.api.get("/api/alerts?pageSize=100", { token: admin })).body.rows
					.map((a: any) => `${a.key}|${a.status}|${a.occurrences}|${a.level}`)
					.sort(),
			};
		};
		const before = await snapshot();
		const envelopes = [...new Map(m.events.seen.map((e) => [e.id, e])).values()];
		expect(envelopes.length).toBeGreaterThan(30);

		for (const envelope of envelopes)
			await (m.broker as any).sendToChannel(channelName(topicOf(envelope.type)), envelope);
		await new Promise((r) => setTimeout(r, 500));
		expect(await snapshot()).toEqual(before);
	});

	const broker = () => m.broker;
});
