/**
 * Notifications over HTTP: events become in-app messages (unread first, mark as read), e-mails
 * received by a real local SMTP server, SMS/push through the logging sender; failures are retried
 * then marked failed; admins message users; redelivered events send nothing twice.
 */
import { ServiceBroker } from "moleculer";
import { SMTPServer } from "smtp-server";
import { decodeQuotedPrintable, Mail, startSmtp } from "../helpers/smtp";
import { AddressInfo } from "net";
import { ADMIN, eventRecorder, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { eventPublisher } from "../helpers/events";
import { channelName } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";

const probe = eventPublisher();

describe("notifications", () => {
	let broker: ServiceBroker;
	let smtp: SMTPServer;
	const mails: Mail[] = [];
	const recorder = eventRecorder();
	let api: ReturnType<typeof client>;
	let adminToken: string;
	const users: Record<string, { id: string; token: string }> = {};

	const publish = (type: string, data: Record<string, any>) => broker.call("probe.publish", { type, data });
	const mailsTo = (address: string) => mails.filter((m) => m.to.includes(address));
	const inbox = async (who: string, query = "") =>
		(await api.get(`/api/notifications${query}`, { token: users[who].token })).body;

	async function createUser(key: string, fields: Record<string, any>) {
		const password = "cylinder-pass-123";
		const user: any = await broker.call("users.create", { password, name: key, ...fields });
		const login = await api.post("/api/auth/login", { email: fields.email, password });
		users[key] = { id: user.id, token: login.body.token };
	}

	beforeAll(async () => {
		smtp = await startSmtp(mails);
		const port = (smtp.server.address() as AddressInfo).port;
		broker = await startBroker({
			services: ["api", "users", "notifications"],
			extraServices: [probe as any, recorder.schema],
			env: {
				SMTP_URL: `smtp://127.0.0.1:${port}`,
				NOTIFY_RETRY_BASE_MS: "20",
				NOTIFY_MAX_ATTEMPTS: "3",
				PUBLIC_URL: "https://gas.example",
			},
		});
		api = client(gatewayUrl(broker));
		adminToken = (await waitFor(() => api.post("/api/auth/login", ADMIN).then((r) => r.body.token))) as string;
		await createUser("ana", { email: "ana@example.com", role: "customer", locale: "en", phone: "+55 11 99999-0001" });
		await createUser("bia", { email: "bia@example.com", role: "customer", locale: "pt-BR" });
		await createUser("bounce", { email: "bounce@example.com", role: "customer", locale: "en" });
		await createUser("supplier", { email: "sup@example.com", role: "supplier", locale: "pt-BR" });
		await createUser("courier", {
			email: "cou@example.com",
			role: "courier",
			locale: "en",
			phone: "+55 11 99999-0002",
		});
	});

	afterAll(async () => {
		await broker.stop();
		await new Promise((resolve) => smtp.close(() => resolve(null)));
	});

	test("an order confirmation reaches the customer in-app, by e-mail and push, in English", async () => {
		await publish("order.confirmed", {
			orderId: "order-000abc123",
			customerId: users.ana.id,
			supplierId: users.supplier.id,
			totalCents: 12990,
			promisedBy: "2030-01-01T15:00:00.000Z",
		});
		const box = await waitFor(async () => {
			const b = await inbox("ana");
			return b.rows.length === 1 && b;
		});
		expect(box.rows[0]).toMatchObject({ channel: "inapp", read: false, template: "order_confirmed", locale: "en" });
		expect(box.rows[0].subject).toBe("Order #ABC123 confirmed");
		expect(box.rows[0].body).toContain("R$129.90");
		const mail = await waitFor(() => mailsTo("ana@example.com")[0]);
		expect(mail.raw).toContain("Subject: Order #ABC123 confirmed");
		// (the push copy: test/service/notifications.test.ts)
		const pushRecord = await waitFor(async () => (await inbox("ana", "?channel=push")).rows[0]);
		expect(pushRecord).toMatchObject({ to: users.ana.id, subject: "Order #ABC123 confirmed" });
		const emailRecord = (await inbox("ana", "?channel=email")).rows[0];
		await waitFor(
			async () =>
				(await api.get(`/api/notifications/${emailRecord.id}`, { token: users.ana.token })).body.status === "sent",
		);
		const sent = await waitFor(() =>
			recorder.ofType("notification.sent").find((e) => e.data.notificationId === emailRecord.id),
		);
		expect(sent.data).toMatchObject({ userId: users.ana.id, channel: "email", eventType: "order.confirmed" });
	});

	test("a courier assignment tells the customer the ETA by SMS and the courier of the job", async () => {
		await publish("courier.assigned", {
			orderId: "order-000def456",
			courierId: users.courier.id,
			customerId: users.ana.id,
			supplierId: users.supplier.id,
			etaMinutes: 17,
			waitedSeconds: 30,
		});
		// (what the SMS provider received: test/service/notifications.test.ts)
		const smsTo = async (who: string) =>
			(await inbox(who, "?channel=sms")).rows.find((n: any) => n.status === "sent" && n.template !== "order_confirmed");
		expect((await waitFor(() => smsTo("ana"))).body).toContain("arrives in about 17 minutes");
		expect((await waitFor(() => smsTo("courier"))).subject).toBe("New delivery #DEF456");
		const courierBox = await waitFor(
			async () => (await inbox("courier")).rows.length === 1 && (await inbox("courier")),
		);
		expect(courierBox.rows[0].template).toBe("new_assignment");
	});

	test("Portuguese-speaking customers get Portuguese texts", async () => {
		await publish("order.delivered", {
			orderId: "order-000aaa111",
			customerId: users.bia.id,
			supplierId: users.supplier.id,
			deliveredAt: "2030-01-01T14:00:00.000Z",
		});
		const box = await waitFor(async () => (await inbox("bia")).rows.length === 1 && (await inbox("bia")));
		expect(box.rows[0].subject).toBe("Pedido #AAA111 entregue");
		expect(box.rows[0].body).toContain("foi entregue em");
		const mail = await waitFor(() => mailsTo("bia@example.com")[0]);
		expect(decodeQuotedPrintable(mail.raw)).toContain("Subject: Pedido #AAA111 entregue");
	});

	test("the inbox lists unread first; marking as read works only for the recipient", async () => {
		await publish("refund.processed", {
			orderId: "order-000bbb222",
			customerId: users.bia.id,
			paymentId: "p1",
			refundId: "r1",
			amountCents: 5000,
		});
		await waitFor(async () => (await inbox("bia")).rows.length === 2);
		const before = await inbox("bia");
		const delivered = before.rows.find((n: any) => n.template === "order_delivered");
		expect(before.unread).toBe(2);

		expect((await api.put(`/api/notifications/${delivered.id}/read`, {}, { token: users.ana.token })).status).toBe(403);
		const marked = await api.put(`/api/notifications/${delivered.id}/read`, {}, { token: users.bia.token });
		expect(marked.status).toBe(200);
		expect(marked.body.read).toBe(true);

		const after = await inbox("bia");
		expect(after.unread).toBe(1);
		expect(after.rows.map((n: any) => n.read)).toEqual([false, true]);
		expect(after.rows[0].template).toBe("refund_processed");
		expect((await inbox("bia", "?unread=true")).rows).toHaveLength(1);

		expect((await api.get(`/api/notifications/${delivered.id}`, { token: users.ana.token })).status).toBe(403);
		const asAdmin = await api.get(`/api/notifications/${delivered.id}`, { token: adminToken });
		expect(asAdmin.status).toBe(200);
		expect(asAdmin.body.attempts).toHaveLength(1);
		expect((await api.get(`/api/notifications/nope`, { token: adminToken })).status).toBe(404);
		expect((await api.get(`/api/notifications?channel=fax`, { token: users.bia.token })).status).toBe(422);
	});

	test("an invitee gets the invitation link by e-mail", async () => {
		await publish("invitation.created", {
			inviteId: "inv1",
			email: "newsupplier@example.com",
			role: "supplier",
			invitedBy: "admin",
			code: "CODE-123456789",
			expiresAt: "2030-01-08T12:00:00.000Z",
			message: "Bem-vindo",
		});
		const mail = await waitFor(() => mailsTo("newsupplier@example.com")[0]);
		expect(decodeQuotedPrintable(mail.raw)).toContain("https://gas.example/#/register?invite=CODE-123456789");
	});

	test("an e-mail that keeps failing is retried with backoff, then marked failed (notification.failed)", async () => {
		await publish("order.confirmed", {
			orderId: "order-000ccc333",
			customerId: users.bounce.id,
			supplierId: users.supplier.id,
			totalCents: 100,
		});
		const failed = await waitFor(() => recorder.ofType("notification.failed")[0], 8000);
		expect(failed.data).toMatchObject({ userId: users.bounce.id, channel: "email", eventType: "order.confirmed" });
		expect(failed.data.error).toMatch(/mailbox unavailable/);
		const record = (await api.get(`/api/notifications/${failed.data.notificationId}`, { token: users.bounce.token }))
			.body;
		expect(record.status).toBe("failed");
		expect(record.attempts).toHaveLength(3);
		expect(record.attempts.every((a: any) => a.ok === false && /mailbox unavailable/.test(a.error))).toBe(true);
		const gaps = record.attempts
			.slice(1)
			.map((a: any, i: number) => Date.parse(a.at) - Date.parse(record.attempts[i].at));
		// Backoff with base 20 ms: at least 20 ms before the 2nd attempt, at least 40 ms before the 3rd
		// (observed gaps also include scheduling delays, so compare each with its own minimum).
		expect(gaps[0]).toBeGreaterThanOrEqual(20);
		expect(gaps[1]).toBeGreaterThanOrEqual(40);
		// the in-app copy was still delivered
		expect((await inbox("bounce")).rows).toHaveLength(1);
	});

	test("admins message a user or a role; others may not; bad input is a 422", async () => {
		const toRole = await api.post(
			"/api/notifications",
			{ role: "courier", subject: "Treinamento", body: "Sábado às 9h", channels: ["inapp", "email"] },
			{ token: adminToken },
		);
		expect(toRole.status).toBe(202);
		expect(toRole.body.recipients).toBe(1);
		const courierBox = await inbox("courier");
		expect(courierBox.rows[0]).toMatchObject({ subject: "Treinamento", body: "Sábado às 9h", read: false });
		await waitFor(() => mailsTo("cou@example.com").length === 1);

		const toUser = await api.post(
			"/api/notifications",
			{ userId: users.bia.id, subject: "Oi", body: "Olá" },
			{ token: adminToken },
		);
		expect(toUser.status).toBe(202);
		expect(toUser.body.notifications).toHaveLength(1);

		const count = (await inbox("bia", "?pageSize=100")).total;
		expect(
			(
				await api.post(
					"/api/notifications",
					{ userId: users.bia.id, subject: "x", body: "y" },
					{ token: users.ana.token },
				)
			).status,
		).toBe(403);
		expect(
			(
				await api.post(
					"/api/notifications",
					{ userId: users.bia.id, role: "customer", subject: "x", body: "y" },
					{ token: adminToken },
				)
			).status,
		).toBe(422);
		expect((await api.post("/api/notifications", { subject: "x", body: "y" }, { token: adminToken })).status).toBe(422);
		expect(
			(
				await api.post(
					"/api/notifications",
					{ userId: users.bia.id, subject: "x", body: "y", extra: 1 },
					{ token: adminToken },
				)
			).status,
		).toBe(422);
		expect(
			(await api.post("/api/notifications", { userId: "nobody", subject: "x", body: "y" }, { token: adminToken }))
				.status,
		).toBe(404);
		expect((await inbox("bia", "?pageSize=100")).total).toBe(count);
	});

	test("alerts reach every admin", async () => {
		await publish("alert.triggered", {
			alertId: "a1",
			rule: "low_stock",
			severity: "warning",
			key: "low_stock:p1",
			level: 1,
		});
		const adminBox = await waitFor(async () => {
			const b = (await api.get("/api/notifications", { token: adminToken })).body;
			return b.rows.find((n: any) => n.template === "alert_triggered") && b;
		});
		expect(adminBox.rows[0].subject).toContain("low_stock");
	});

	test("redelivering every event through the topic sends nothing twice", async () => {
		// (straight to the handler, bypassing the ledger, and the SMS/push providers: test/service/notifications.test.ts)
		const boxes = async () => {
			const out: Record<string, number> = {};
			for (const who of Object.keys(users))
				for (const channel of ["inapp", "email", "sms", "push"])
					out[`${who}:${channel}`] = (await inbox(who, `?channel=${channel}`)).total;
			return out;
		};
		await new Promise((r) => setTimeout(r, 300));
		const before = await boxes();
		const mailsBefore = mails.length;
		const envelopes = [...new Map(recorder.seen.map((e) => [e.id, e])).values()];
		expect(envelopes.length).toBeGreaterThan(10);
		for (const envelope of envelopes)
			await (broker as any).sendToChannel(channelName(topicOf(envelope.type)), envelope);
		await new Promise((r) => setTimeout(r, 300));
		expect(await boxes()).toEqual(before);
		expect(mails.length).toBe(mailsBefore);
	});
});
