import { newNotification, outcomeEvent } from "../../lib/domain/notifications";

const contact = { id: "u1", email: "ana@example.com", phone: "+5511999990000", locale: "en" };
const source = { id: "evt-1", type: "order.confirmed" };
const message = { template: "admin_message" as const, vars: { subject: "Hello", body: "Gas is on its way" } };

describe("a new message", () => {
	it("in-app: stored as sent, with its one attempt, rendered in the contact's locale", () => {
		const n = newNotification({ id: "n1", source, message, contact, channel: "inapp", to: "u1", now: "T" });
		expect(n).toMatchObject({
			_id: "n1",
			notifKey: "evt-1|u1|inapp",
			eventId: "evt-1",
			eventType: "order.confirmed",
			userId: "u1",
			locale: "en",
			status: "sent",
			sentAt: "T",
			attempts: [{ at: "T", ok: true }],
			attemptCount: 0,
			read: false,
		});
		expect(n.subject).toContain("Hello");
		expect(n.body).toContain("Gas is on its way");
	});

	it("other channels: pending until a sender takes it; keyed by e-mail when the contact has no id", () => {
		const n = newNotification({
			id: "n2",
			source,
			message,
			contact: { ...contact, id: null, locale: "xx" },
			channel: "email",
			to: "ana@example.com",
			now: "T",
		});
		expect(n).toMatchObject({
			status: "pending",
			attempts: [],
			notifKey: "evt-1|ana@example.com|email",
			locale: "pt-BR",
		});
		expect(n.sentAt).toBeUndefined();
	});
});

it("the outcome's event carries the message's ids, and the error when it failed", () => {
	const n = newNotification({ id: "n3", source, message, contact, channel: "sms", to: "+55", now: "T" });
	const data = { notificationId: "n3", userId: "u1", channel: "sms", eventType: "order.confirmed" };
	expect(outcomeEvent("notification.sent", n)).toEqual({ type: "notification.sent", data });
	expect(outcomeEvent("notification.failed", n, "boom")).toEqual({
		type: "notification.failed",
		data: { ...data, error: "boom" },
	});
});
