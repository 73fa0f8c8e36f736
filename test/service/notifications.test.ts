/**
 * The notifications service on a broker of its own, with a fake users service: messages from
 * envelopes sent to its topics, what the SMS and push providers receive, idempotency when the
 * handler sees an event twice, failures, and the timers' lifecycle.
 */
import { Context, ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { EventEnvelope, topicOf } from "../../lib/domain/events";
import type { EventMap, EventName } from "../../lib/contracts/events";
import type { Contact } from "../../lib/contracts/notifications";
import type { OutgoingMessage } from "../../lib/infra/senders";

const CONTACTS: Record<string, Contact> = {
	ana: { id: "ana", email: "ana@example.com", phone: "+55 11 90000-0001", locale: "en" },
	kim: { id: "kim", email: null, phone: "+55 11 90000-0002", locale: "pt-BR" },
	gone: { id: "gone", email: "gone@example.com", phone: null, locale: "en", status: "deleted" },
	boss: { id: "boss", email: null, phone: null, locale: "pt-BR" },
};
const fakeUsers = {
	name: "users",
	actions: {
		contact: (ctx: Context<{ id: string }>) => CONTACTS[ctx.params.id] || null,
		idsByRole: (ctx: Context<{ role: string }>) => (ctx.params.role === "admin" ? ["boss"] : []),
	},
};

let seq = 0;
function envelope<K extends EventName>(type: K, data: Partial<EventMap[K]>) {
	const time = new Date().toISOString();
	return { id: `nt-${++seq}-${Date.now()}`, type, time, actor: "test", requestId: null, data } as EventEnvelope;
}

interface NotificationsInternals {
	senders: { sms: { outbox: OutgoingMessage[] }; push: { outbox: OutgoingMessage[] } };
	notifyForEvent(e: EventEnvelope, ctx: Context): Promise<void>;
	countEntities(query?: object): Promise<number>;
	schema: { businessEvents: object };
	/** TimersMixin's state of each job (the "sweeper"). */
	runningTimers: Map<string, { stopped: boolean; handle?: NodeJS.Timeout }>;
	retryTimers: Set<NodeJS.Timeout>;
}

describe("notifications service", () => {
	let broker: ServiceBroker;
	let service: NotificationsInternals;
	const recorder = eventRecorder();
	const sent: EventEnvelope[] = [];
	const send = async (e: EventEnvelope) => {
		sent.push(e);
		await (broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(e.type)),
			e,
		);
	};
	const as = (id: string, role = "customer") => ({ meta: { user: { id, role } } });

	beforeAll(async () => {
		broker = await startBroker({
			services: ["notifications"],
			extraServices: [fakeUsers, recorder.schema],
			env: { NOTIFY_RETRY_BASE_MS: "10", NOTIFY_MAX_ATTEMPTS: "2" },
		});
		service = broker.getLocalService("notifications") as unknown as NotificationsInternals;
	});
	afterAll(() => broker.stop());

	test("subscribes only to the events that call for messages", () => {
		const types = Object.keys(service.schema.businessEvents);
		expect(types).not.toContain("*");
		expect(types).not.toContain("notification.sent");
		expect(types).toEqual(expect.arrayContaining(["order.confirmed", "courier.assigned", "alert.triggered"]));
	});

	test("push and SMS providers receive the messages; in-app copies are announced with their insert", async () => {
		await send(envelope("order.confirmed", { orderId: "order-000abc123", customerId: "ana", totalCents: 100 }));
		await send(
			envelope("courier.assigned", { orderId: "order-000def456", customerId: "ana", courierId: "kim", etaMinutes: 9 }),
		);
		await waitFor(() => service.senders.sms.outbox.length === 2);
		expect(service.senders.sms.outbox.find((m) => m.to === "+55 11 90000-0001")!.text).toContain("about 9 minutes");
		expect(service.senders.sms.outbox.find((m) => m.to === "+55 11 90000-0002")!.subject).toBe("Nova entrega #DEF456");
		await waitFor(() =>
			service.senders.push.outbox.some((m) => m.to === "ana" && m.subject === "Order #ABC123 confirmed"),
		);
		const inapp = await waitFor(() =>
			recorder.ofType("notification.sent").find((e) => e.data.channel === "inapp" && e.data.userId === "ana"),
		);
		expect(inapp.data.eventType).toBe("order.confirmed");
	});

	test("deleted users get nothing; without a sender (no SMTP here) e-mail is skipped", async () => {
		const before = await service.countEntities({});
		await send(envelope("order.confirmed", { orderId: "o-gone", customerId: "gone" }));
		await send(envelope("order.confirmed", { orderId: "o-ana-2", customerId: "ana" }));
		await waitFor(async () => (await service.countEntities({ eventType: "order.confirmed", userId: "ana" })) === 4);
		expect(await service.countEntities({ userId: "gone" })).toBe(0);
		expect(await service.countEntities({ channel: "email" })).toBe(0);
		expect(await service.countEntities({})).toBe(before + 2);
	});

	test("the handler seeing every event twice (ledger bypassed) stores and sends nothing new", async () => {
		await waitFor(async () => (await service.countEntities({ status: { $in: ["pending", "sending"] } })) === 0);
		const before = await service.countEntities({});
		const sms = service.senders.sms.outbox.length;
		const push = service.senders.push.outbox.length;
		const ctx = broker.ContextFactory.create(broker, null as never, {}, {});
		for (const e of sent) await service.notifyForEvent(e, ctx);
		await new Promise((r) => setTimeout(r, 100));
		expect(await service.countEntities({})).toBe(before);
		expect(service.senders.sms.outbox.length).toBe(sms);
		expect(service.senders.push.outbox.length).toBe(push);
	});

	test("failure paths: someone else's message, unknown ids, bad input", async () => {
		const list = (await broker.call("notifications.list", {}, as("ana"))) as { rows: { id: string }[] };
		const id = list.rows[0].id;
		await expect(broker.call("notifications.get", { id }, as("kim"))).rejects.toMatchObject({ code: 403 });
		await expect(broker.call("notifications.markRead", { id }, as("kim"))).rejects.toMatchObject({ code: 403 });
		await expect(broker.call("notifications.get", { id: "nope" }, as("ana"))).rejects.toMatchObject({ code: 404 });
		const admin = as("boss", "admin");
		await expect(
			broker.call("notifications.send", { userId: "nobody", subject: "x", body: "y" }, admin),
		).rejects.toMatchObject({ code: 404 });
		await expect(
			broker.call("notifications.send", { userId: "ana", role: "customer", subject: "x", body: "y" }, admin),
		).rejects.toMatchObject({ code: 422 });
		expect(await broker.call("notifications.markAllRead", {}, as("ana"))).toEqual({ marked: 3 });
	});

	test("the sweeper and retry timers are cleared when the service stops", async () => {
		const own = await startBroker({ services: ["notifications"], extraServices: [fakeUsers] });
		const s = own.getLocalService("notifications") as unknown as NotificationsInternals;
		expect(s.runningTimers.get("sweeper")).toMatchObject({ stopped: false, handle: expect.anything() });
		await own.stop();
		expect(s.runningTimers.get("sweeper")).toMatchObject({ stopped: true });
		expect(s.retryTimers.size).toBe(0);
	});
});
