/**
 * Notifications' records: a message as it is first stored (rendered in the recipient's locale, one
 * per event, recipient and channel), and the event of its outcome. Pure functions.
 */
import type { PendingEvent } from "../contracts/events";
import type { Contact, Notification } from "../contracts/notifications";
import { Channel, localizedVars, normalizeLocale, render, TemplateName, Vars } from "./templates";

/** What a message is about: the event (or admin message) it comes from. */
export interface MessageSource {
	id: string;
	type: string;
}

/** One message to store: what, to whom, on which channel, at which address. */
export interface NewMessage {
	source: MessageSource;
	message: { template: TemplateName; vars: Vars };
	contact: Contact;
	channel: Channel;
	to: string;
}

/**
 * A new message to `contact` on `channel` at `to`. In-app messages are delivered by being stored
 * (`sent`, with their one attempt); the others wait `pending` for a sender.
 */
export function newNotification(m: NewMessage & { id: string; now: string }): Notification {
	const { source, contact, channel, now } = m;
	const locale = normalizeLocale(contact.locale);
	const { subject, body } = render(m.message.template, locale, localizedVars(m.message.vars, locale));
	const inapp = channel === "inapp";
	return {
		_id: m.id,
		notifKey: `${source.id}|${contact.id || contact.email}|${channel}`,
		eventId: source.id,
		eventType: source.type,
		template: m.message.template,
		userId: contact.id,
		channel,
		to: m.to,
		locale,
		subject,
		body,
		read: false,
		status: inapp ? "sent" : "pending",
		attempts: inapp ? [{ at: now, ok: true }] : [],
		attemptCount: 0,
		nextAttemptAt: now,
		createdAt: now,
		...(inapp ? { sentAt: now } : {}),
	};
}

/** The event of a message's outcome, recorded with the write that sets its status. */
export function outcomeEvent(
	type: "notification.sent" | "notification.failed",
	n: Notification,
	error?: string,
): PendingEvent {
	const data = { notificationId: n._id, userId: n.userId, channel: n.channel, eventType: n.eventType };
	return { type, data: error ? { ...data, error } : data };
}
