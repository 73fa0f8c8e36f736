/**
 * Reorder reminders on a broker with analytics and notifications (fake users): delivered orders
 * become run-out estimates per cylinder type; the job publishes reminder.due once per last order;
 * notifications tells the customer in their language with the one-tap reorder link, unless they
 * turned reorder reminders off (notification preferences per kind and channel).
 */
import { Context, ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { EventEnvelope, topicOf } from "../../lib/domain/events";
import type { Contact } from "../../lib/contracts/notifications";

const CONTACTS: Record<string, Contact> = {
	ana: { id: "ana", email: "ana@example.com", phone: null, locale: "en" },
	joao: { id: "joao", email: "joao@example.com", phone: null, locale: "pt-BR" },
};
const fakeUsers = {
	name: "users",
	actions: {
		contact: (ctx: Context<{ id: string }>) => CONTACTS[ctx.params.id] || null,
		idsByRole: (ctx: Context<{ role: string }>) => (ctx.params.role === "admin" ? ["boss"] : []),
	},
};
const DAY = 86_400_000;
let seq = 0;
const delivered = (
	orderId: string,
	customerId: string,
	daysAgo: number,
	items = [{ productId: "p", type: "P13", quantity: 1 }],
) =>
	({
		id: `rm-${++seq}-${Date.now()}`,
		type: "order.delivered",
		time: new Date().toISOString(),
		actor: "test",
		requestId: null,
		data: {
			orderId,
			customerId,
			supplierId: "s1",
			courierId: "c1",
			totalCents: 11_000,
			confirmedAt: null,
			deliveredAt: new Date(Date.now() - daysAgo * DAY).toISOString(),
			promisedBy: null,
			distanceKm: 1,
			items,
		},
	}) as EventEnvelope;

interface Estimate {
	cylinderType: string;
	basis: string;
	daysPerCylinder: number;
	lastOrderId: string;
}
interface Inbox {
	rows: { subject: string; body: string; template: string; channel: string }[];
}

describe("reorder reminders", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	const as = (id: string) => ({ meta: { user: { id, role: "customer" } } });
	const send = (e: EventEnvelope) =>
		(broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(e.type)),
			e,
		);
	const estimates = (id: string) => broker.call<Estimate[], object>("analytics.reorderEstimates", {}, as(id));
	const analytics = () =>
		broker.getLocalService("analytics") as unknown as { sendDueReminders(now?: Date): Promise<number> };
	const reminders = (id: string) =>
		broker
			.call<Inbox, object>("notifications.list", { channel: "inapp" }, as(id))
			.then((r) => r.rows.filter((m) => m.template === "reorder_reminder"));

	beforeAll(async () => {
		broker = await startBroker({
			services: ["analytics", "notifications"],
			extraServices: [fakeUsers, recorder.schema],
			env: { REMINDER_CHECK_MS: "0", DAILY_STATEMENTS_CHECK_MS: "0", PUBLIC_URL: "https://gas.example" },
		});
	});
	afterAll(() => broker.stop());

	test("deliveries become an estimate per cylinder type: the default first, history after", async () => {
		await send(delivered("a1", "ana", 100));
		await waitFor(async () => (await estimates("ana")).length === 1);
		expect((await estimates("ana"))[0]).toMatchObject({
			cylinderType: "P13",
			basis: "default",
			daysPerCylinder: 50,
			lastOrderId: "a1",
		});
		const second = delivered("a2", "ana", 60);
		await send(second);
		await send(second); // redelivered: counted once
		await waitFor(async () => (await estimates("ana"))[0].lastOrderId === "a2");
		expect((await estimates("ana"))[0]).toMatchObject({ basis: "history", daysPerCylinder: 40 });
		expect(await estimates("nobody")).toEqual([]);
	});

	test("a due reminder goes out once per last order, in the customer's language, with the reorder link", async () => {
		await send(delivered("j1", "joao", 49));
		await waitFor(async () => (await estimates("joao")).length === 1);
		await send(delivered("late", "nobody-yet", 1)); // due in 46 days: not now
		await waitFor(async () => (await estimates("nobody-yet")).length === 1);
		expect(await analytics().sendDueReminders()).toBe(2); // ana (ran out ~20 days ago) and joao
		expect(await analytics().sendDueReminders()).toBe(0);
		await waitFor(() => recorder.ofType("reminder.due").length === 2);
		expect(
			recorder
				.ofType("reminder.due")
				.map((e) => e.data.customerId)
				.sort(),
		).toEqual(["ana", "joao"]);
		const [pt] = (await waitFor(async () => {
			const r = await reminders("joao");
			return r.length ? r : undefined;
		})) as Inbox["rows"];
		expect(pt.subject).toBe("Seu gás P13 deve acabar em breve");
		expect(pt.body).toContain("https://gas.example/#/reorder/j1");
		const [en] = (await waitFor(async () => {
			const r = await reminders("ana");
			return r.length ? r : undefined;
		})) as Inbox["rows"];
		expect(en.subject).toBe("Your P13 gas should run out soon");
		expect(en.body).toContain("/#/reorder/a2");
	});

	test("a customer who turned reorder reminders off gets none; preferences are validated", async () => {
		await expect(
			broker.call("notifications.setPreference", { kind: "nope", channel: "email", enabled: false }, as("joao")),
		).rejects.toMatchObject({ code: 422 });
		await expect(
			broker.call(
				"notifications.setPreference",
				{ kind: "reorder_reminder", channel: "fax", enabled: false },
				as("joao"),
			),
		).rejects.toMatchObject({ code: 422 });
		const prefs = await broker.call<{ kinds: Record<string, Record<string, boolean>>; muted: string[] }, object>(
			"notifications.setPreference",
			{ kind: "reorder_reminder", channel: "*", enabled: false },
			as("joao"),
		);
		expect(prefs.kinds.reorder_reminder).toEqual({ inapp: false, email: false, sms: false, push: false });
		expect(prefs.kinds.order_delivered.inapp).toBe(true);
		// Security notices stay on: refused in words, and nothing changes.
		await expect(
			broker.call("notifications.setPreference", { kind: "account_locked", channel: "*", enabled: false }, as("joao")),
		).rejects.toMatchObject({ code: 422, type: "UNPROCESSABLE" });
		const after = await broker.call<typeof prefs & { alwaysOn: string[] }, object>(
			"notifications.getPreferences",
			{},
			as("joao"),
		);
		expect(after.kinds.account_locked).toEqual({ inapp: true, email: true, sms: true, push: true });
		expect(after.alwaysOn).toEqual(["account_locked"]);
		expect(after.muted).toEqual(prefs.muted);
		expect(
			(await broker.call<typeof prefs, object>("notifications.getPreferences", {}, as("ana"))).kinds.reorder_reminder
				.inapp,
		).toBe(true);

		await send(delivered("j2", "joao", 1)); // a new last order, due in about 45 days
		await waitFor(async () => (await estimates("joao"))[0].lastOrderId === "j2");
		expect(await analytics().sendDueReminders()).toBe(0);
		expect(await analytics().sendDueReminders(new Date(Date.now() + 60 * DAY))).toBe(2); // joao's j2, and "nobody-yet"
		await waitFor(() => recorder.ofType("reminder.due").length === 4);
		await new Promise((r) => setTimeout(r, 500));
		expect((await reminders("joao")).map((m) => m.body).filter((b) => b.includes("j2"))).toEqual([]);
	});
});
