/**
 * Alerts over HTTP: rules over the event stream (payment failure rate, low stock, courier wait,
 * late delivery, verification queue, failing notifications, dead letters), deduplication,
 * escalation that notifies admins again, resolution (by hand and automatic), tunable rules,
 * replay of dead letters, and idempotency under redelivery.
 */
import { ServiceBroker } from "moleculer";
import { ADMIN, eventRecorder, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { eventPublisher } from "../helpers/events";
import { DbMixin } from "../../mixins/db.mixin";
import { channelName, EventsMixin } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";

const probe = eventPublisher();

/** A consumer that fails on "poison" orders until healed, so its messages are dead-lettered. */
const flaky = {
	name: "flaky",
	mixins: [DbMixin({ collection: "flaky" }), EventsMixin],
	businessEvents: {
		"order.created"(this: any, envelope: any) {
			if (envelope.data.poison && !flakyState.healed) throw new Error("cannot digest this order");
			flakyState.handled.push(envelope.id);
		},
	},
};
const flakyState = { healed: false, handled: [] as string[] };

const later = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

describe("alerts", () => {
	let broker: ServiceBroker;
	let api: ReturnType<typeof client>;
	let adminToken: string;
	let customerToken: string;
	const recorder = eventRecorder();

	const publish = (type: string, data: Record<string, any>) => broker.call("probe.publish", { type, data });
	const alerts = async (query = "") => (await api.get(`/api/alerts${query}`, { token: adminToken })).body.rows;
	const openAlert = (key: string) =>
		waitFor(async () => (await alerts("?status=open&pageSize=100")).find((a: any) => a.key === key), 15_000);
	const watch = (rule: string, subject: string) => broker.call("alerts.watch", { rule, subject });
	const triggered = (key: string) => recorder.ofType("alert.triggered").filter((e) => e.data.key === key);

	beforeAll(async () => {
		broker = await startBroker({
			services: ["api", "users", "notifications", "alerts"],
			extraServices: [probe as any, flaky as any, recorder.schema],
			env: { EVENT_MAX_ATTEMPTS: "2", EVENT_RETRY_BASE_MS: "5", ALERT_ESCALATION_CHECK_MS: "50" },
		});
		api = client(gatewayUrl(broker));
		adminToken = (await waitFor(() => api.post("/api/auth/login", ADMIN).then((r) => r.body.token))) as string;
		await broker.call("users.create", {
			email: "c@example.com",
			password: "cylinder-pass-123",
			name: "C",
			role: "customer",
		});
		customerToken = (await api.post("/api/auth/login", { email: "c@example.com", password: "cylinder-pass-123" })).body
			.token;
	});
	afterAll(() => broker.stop());

	test("rules have defaults an admin can change; bad changes are refused", async () => {
		const rules = await api.get("/api/alerts/rules", { token: adminToken });
		expect(rules.status).toBe(200);
		expect(rules.body.payment_failure_rate).toMatchObject({ enabled: true, threshold: 0.5, minSample: 4 });
		const changed = await api.put("/api/alerts/rules/payment_failure_rate", { minSample: 2 }, { token: adminToken });
		expect(changed.status).toBe(200);
		expect(changed.body).toMatchObject({ minSample: 2, threshold: 0.5, windowMinutes: 15 });
		expect(
			(await api.put("/api/alerts/rules/notification_failures", { threshold: 2 }, { token: adminToken })).status,
		).toBe(200);

		const put = (rule: string, body: any, token = adminToken) => api.put(`/api/alerts/rules/${rule}`, body, { token });
		expect((await put("payment_failure_rate", { threshold: 1.5 })).status).toBe(422);
		expect((await put("low_stock", { minSample: 3 })).status).toBe(422);
		expect((await put("courier_wait", { escalationMinutes: [5] })).status).toBe(422);
		expect((await put("courier_wait", { colour: "red" })).status).toBe(422);
		expect((await put("no_such_rule", { enabled: false })).status).toBe(404);
		expect((await put("courier_wait", { enabled: false }, customerToken)).status).toBe(403);
		expect((await api.get("/api/alerts/rules", { token: adminToken })).body.courier_wait.thresholdMinutes).toBe(10);
	});

	test("a payment failure rate over the window raises one alert, however many failures follow", async () => {
		await publish("payment.processed", { paymentId: "p1", orderId: "o1", amountCents: 100, status: "captured" });
		await publish("payment.failed", { paymentId: "p2", orderId: "o2", amountCents: 100, reason: "card declined" });
		const alert = await openAlert("payment_failure_rate");
		expect(alert).toMatchObject({ rule: "payment_failure_rate", severity: "critical", level: 1, status: "open" });
		expect(alert.summary).toContain("1 of 2 payments failed");
		await publish("payment.failed", { paymentId: "p3", orderId: "o3", amountCents: 100, reason: "card declined" });
		// Both earlier events are evaluated concurrently, so either may count as a sighting: at least 2 now.
		await waitFor(async () => (await openAlert("payment_failure_rate")).occurrences >= 2, 15_000);
		expect(triggered("payment_failure_rate")).toHaveLength(1);
	});

	test("low stock raises an alert per product, deduplicated, resolved when restocked", async () => {
		const low = {
			productId: "prod1",
			supplierId: "s1",
			stock: 3,
			reserved: 1,
			lowStock: true,
			lowStockThreshold: 5,
			reason: "reserved",
		};
		await publish("inventory.updated", low);
		await publish("inventory.updated", { ...low, reserved: 2 });
		await waitFor(async () => (await openAlert("low_stock:prod1")).occurrences === 2);
		expect((await alerts("?status=open&severity=warning")).map((a: any) => a.key)).toContain("low_stock:prod1");
		expect((await alerts("?severity=critical")).map((a: any) => a.key)).not.toContain("low_stock:prod1");
		await publish("inventory.updated", { ...low, stock: 50, lowStock: false, reason: "restocked" });
		const resolved = await waitFor(async () =>
			(await alerts("?status=resolved")).find((a: any) => a.key === "low_stock:prod1"),
		);
		expect(resolved).toMatchObject({ resolvedBy: "system", note: "stock is above its threshold again" });
		expect(triggered("low_stock:prod1")).toHaveLength(1);
	});

	test("an order waiting for a courier too long raises an alert that clears on assignment", async () => {
		await publish("order.confirmed", {
			orderId: "w1",
			supplierId: "s1",
			confirmedAt: new Date().toISOString(),
			promisedBy: later(60),
		});
		await waitFor(() => watch("courier_wait", "w1"));
		expect(await broker.call("alerts.evaluateTimers", { now: later(5) })).toEqual({ raised: 0 });
		expect(await broker.call("alerts.evaluateTimers", { now: later(11) })).toEqual({ raised: 1 });
		expect(await broker.call("alerts.evaluateTimers", { now: later(12) })).toEqual({ raised: 0 });
		await openAlert("courier_wait:w1");
		await publish("courier.assigned", { orderId: "w1", courierId: "k1", etaMinutes: 10, waitedSeconds: 700 });
		await waitFor(async () => (await alerts("?status=resolved")).find((a: any) => a.key === "courier_wait:w1"));

		await publish("delivery.unassigned", { orderId: "w2", supplierId: "s1", waitedSeconds: 900 });
		expect((await openAlert("courier_wait:w2")).summary).toContain("15 min");
	});

	test("a delivery later than promised raises an alert; delivering resolves it", async () => {
		await publish("order.confirmed", {
			orderId: "late1",
			supplierId: "s1",
			confirmedAt: new Date().toISOString(),
			promisedBy: later(30),
		});
		await publish("courier.assigned", { orderId: "late1", courierId: "k1", etaMinutes: 10 });
		await waitFor(() => watch("late_delivery", "late1"));
		expect(await broker.call("alerts.evaluateTimers", { now: later(29) })).toEqual({ raised: 0 });
		await broker.call("alerts.evaluateTimers", { now: later(31) });
		const alert = await openAlert("late_delivery:late1");
		expect(alert.summary).toContain("past its promised delivery time");
		await publish("order.delivered", { orderId: "late1", supplierId: "s1", deliveredAt: later(35) });
		await waitFor(async () => (await alerts("?status=resolved")).find((a: any) => a.key === "late_delivery:late1"));
	});

	test("a verification queue waiting too long raises an alert; review clears it", async () => {
		await publish("verification.requested", { userId: "u9", role: "supplier" });
		await waitFor(() => watch("verification_wait", "u9"));
		await broker.call("alerts.evaluateTimers", { now: later(49 * 60) });
		expect((await openAlert("verification_wait:u9")).severity).toBe("info");
		await publish("verification.approved", { userId: "u9", role: "supplier" });
		await waitFor(async () => (await alerts("?status=resolved")).find((a: any) => a.key === "verification_wait:u9"));
	});

	test("failing notifications over the threshold raise an alert", async () => {
		for (const n of ["n1", "n2"])
			await publish("notification.failed", {
				notificationId: n,
				userId: "u",
				channel: "email",
				eventType: "x",
				error: "smtp down",
			});
		expect((await openAlert("notification_failures")).summary).toContain("2 notifications failed");
	});

	test("admins raise alerts by hand; an open alert escalates 1 → 2 → 3 and admins are told each time", async () => {
		const first = await api.post(
			"/api/alerts",
			{ summary: "Database slow", severity: "critical", key: "db" },
			{ token: adminToken },
		);
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ level: 1, status: "open", key: "manual:db", deduplicated: false });
		const again = await api.post("/api/alerts", { summary: "Database slow again", key: "db" }, { token: adminToken });
		expect(again.status).toBe(200);
		expect(again.body).toMatchObject({ id: first.body.id, deduplicated: true, occurrences: 2 });
		expect((await api.post("/api/alerts", { summary: "x" }, { token: customerToken })).status).toBe(403);
		expect(
			(await api.post("/api/alerts", { summary: "x", severity: "apocalyptic" }, { token: adminToken })).status,
		).toBe(422);
		expect((await api.post("/api/alerts", { summary: "" }, { token: adminToken })).status).toBe(422);

		const adminInbox = async () => (await api.get("/api/notifications?pageSize=100", { token: adminToken })).body.rows;
		await waitFor(async () =>
			(await adminInbox()).some((n: any) => n.template === "alert_triggered" && n.subject.includes("manual")),
		);

		// manual policy: 60 min to level 2, then 240 min to level 3
		const levelOf = async () => (await api.get(`/api/alerts/${first.body.id}`, { token: adminToken })).body.level;
		await broker.call("alerts.escalateDue", { now: later(59) });
		expect(await levelOf()).toBe(1);
		const toTwo: any = await broker.call("alerts.escalateDue", { now: later(61) });
		expect(toTwo.escalated).toBeGreaterThanOrEqual(1);
		let alert = (await api.get(`/api/alerts/${first.body.id}`, { token: adminToken })).body;
		expect(alert.level).toBe(2);
		await broker.call("alerts.escalateDue", { now: later(62) });
		expect(await levelOf()).toBe(2);
		await broker.call("alerts.escalateDue", { now: later(61 + 239) });
		expect(await levelOf()).toBe(2);
		await broker.call("alerts.escalateDue", { now: later(61 + 241) });
		await broker.call("alerts.escalateDue", { now: later(10_000) });
		alert = (await api.get(`/api/alerts/${first.body.id}`, { token: adminToken })).body;
		expect(alert.level).toBe(3);
		expect(alert.history.map((h: any) => h.action)).toEqual(["triggered", "escalated", "escalated"]);
		const escalations = recorder.ofType("alert.escalated").filter((e) => e.data.alertId === first.body.id);
		expect(escalations.map((e) => e.data.level)).toEqual([2, 3]);
		await waitFor(
			async () =>
				(await adminInbox()).filter((n: any) => n.template === "alert_escalated" && n.body.includes("manual:db"))
					.length === 2,
		);
	});

	test("an admin resolves an alert with a note; it is then closed for good and the condition can be raised anew", async () => {
		const open = await openAlert("manual:db");
		expect((await api.put(`/api/alerts/${open.id}/resolve`, {}, { token: adminToken })).status).toBe(422);
		expect((await api.put(`/api/alerts/${open.id}/resolve`, { note: "x" }, { token: customerToken })).status).toBe(403);
		const resolved = await api.put(`/api/alerts/${open.id}/resolve`, { note: "index added" }, { token: adminToken });
		expect(resolved.status).toBe(200);
		expect(resolved.body).toMatchObject({ status: "resolved", note: "index added", level: 3 });
		expect((await api.put(`/api/alerts/${open.id}/resolve`, { note: "again" }, { token: adminToken })).status).toBe(
			409,
		);
		expect((await api.put(`/api/alerts/nope/resolve`, { note: "x" }, { token: adminToken })).status).toBe(404);
		const announced = await waitFor(() => recorder.ofType("alert.resolved").find((e) => e.data.alertId === open.id));
		expect(announced.data).toMatchObject({ note: "index added", key: "manual:db" });
		expect(await broker.call("alerts.escalateDue", { now: later(100_000) })).toMatchObject({});
		expect((await api.get(`/api/alerts/${open.id}`, { token: adminToken })).body.level).toBe(3);

		const anew = await api.post("/api/alerts", { summary: "Database slow (again)", key: "db" }, { token: adminToken });
		expect(anew.status).toBe(201);
		expect(anew.body.id).not.toBe(open.id);
	});

	test("a dead-lettered message raises an alert that an admin can replay", async () => {
		const poisoned: any = await publish("order.created", { orderId: "poison1", poison: true });
		const alert = await openAlert(`dead_letter:${poisoned.id}:flaky`);
		expect(alert.details).toMatchObject({ consumer: "flaky", error: "cannot digest this order" });
		expect(alert.details.envelope.id).toBe(poisoned.id);
		expect(flakyState.handled).not.toContain(poisoned.id);

		flakyState.healed = true;
		const replay = await api.post(`/api/alerts/${alert.id}/replay`, {}, { token: adminToken });
		expect(replay.status).toBe(200);
		expect(replay.body.replayedEventId).toBe(poisoned.id);
		await waitFor(() => flakyState.handled.includes(poisoned.id));
		const notDead = await openAlert("notification_failures");
		expect((await api.post(`/api/alerts/${notDead.id}/replay`, {}, { token: adminToken })).status).toBe(409);
	});

	test("redelivering every event through the topic raises nothing new", async () => {
		// (straight to the rules, bypassing the ledger: test/service/alerts.test.ts)
		const snapshot = async () =>
			(await alerts("?pageSize=100")).map((a: any) => `${a.key}|${a.status}|${a.occurrences}|${a.level}`).sort();
		const before = await snapshot();
		const triggeredBefore = recorder.ofType("alert.triggered").length;
		const envelopes = [...new Map(recorder.seen.map((e) => [e.id, e])).values()].filter((e) => !e.data.poison);
		for (const envelope of envelopes)
			await (broker as any).sendToChannel(channelName(topicOf(envelope.type)), envelope);
		await new Promise((r) => setTimeout(r, 300));
		expect(await snapshot()).toEqual(before);
		expect(recorder.ofType("alert.triggered").length).toBe(triggeredBefore);
	});

	test("the escalation timer escalates on its own when the policy's delays are short", async () => {
		const rule = await api.put(
			"/api/alerts/rules/manual",
			{ escalationMinutes: [0.002, 0.002] },
			{ token: adminToken },
		);
		expect(rule.status).toBe(200);
		const raised = await api.post("/api/alerts", { summary: "Disk filling up", key: "disk" }, { token: adminToken });
		expect(raised.status).toBe(201);
		const top = await waitFor(async () => {
			const a = (await api.get(`/api/alerts/${raised.body.id}`, { token: adminToken })).body;
			return a.level === 3 && a;
		}, 3000);
		expect(top.history.map((h: any) => h.action)).toEqual(["triggered", "escalated", "escalated"]);
	});
});
