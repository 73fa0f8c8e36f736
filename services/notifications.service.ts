/**
 * Notifications: turns business events into messages for the people concerned
 * (lib/domain/templates.ts), in their locale, on their channels. In-app messages are stored (the
 * inbox); e-mail, SMS and push go through senders (lib/infra/senders.ts) with a delivery history,
 * retries with backoff, then `failed`. One message per (event, recipient, channel): a redelivered
 * event sends nothing twice. notification.sent / notification.failed are recorded with the write
 * that changes the message's status.
 */
import { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMixin } from "../mixins/events.mixin";
import { TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
import { NOTIFICATION_PARAMS } from "../lib/contracts/notifications";
import type * as C from "../lib/contracts/notifications";
import type { Contact, Notification } from "../lib/contracts/notifications";
import { config } from "../lib/infra/config";
import { EventEnvelope } from "../lib/domain/events";
import { forbidden, isConflict, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { sendersFromConfig } from "../lib/infra/senders";
import { MessageSource, NewMessage, newNotification, outcomeEvent } from "../lib/domain/notifications";
import { NOTIFIED_EVENTS, plannedMessages } from "../lib/domain/templates";
import type { Channel, PlannedMessage } from "../lib/domain/templates";
import { NotificationDeliveryMixin } from "./parts/notifications/delivery.mixin";
import type { Settings, ThisService } from "./parts/notifications/types";
import { isMuted } from "../lib/domain/reminders";
import { preferencesSchema } from "./parts/notifications/preferences.mixin";

async function onNotifiedEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
	await this.notifyForEvent(envelope, ctx);
}
/** Only the events that call for messages (lib/domain/templates.ts NOTIFIED_EVENTS). */
const businessEvents: BusinessEventHandlers<ThisService> = Object.fromEntries(
	NOTIFIED_EVENTS.map((t) => [t, onNotifiedEvent]),
);

const NotificationsService: ServiceSchema<Settings, ThisService> = {
	name: "notifications",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		preferencesSchema,
		TimersMixin,
		NotificationDeliveryMixin,
		EventsMixin,
		DbMixin<Notification>({
			collection: "notifications",
			indexes: [
				{ fields: { notifKey: 1 }, unique: true },
				{ fields: { userId: 1, channel: 1, read: 1 } },
				{ fields: { status: 1, nextAttemptAt: 1 } },
			],
			kinds: { preferences: {} },
		}),
	],
	settings: { rest: "/" },

	actions: {
		list: {
			rest: "GET /notifications",
			params: NOTIFICATION_PARAMS.list,
			async handler(this: ThisService, ctx: Ctx<C.ListNotificationsParams>) {
				const { page, pageSize, channel, unread } = ctx.params;
				const userId = ctx.meta.user!.id;
				const query = { userId, channel, ...(unread !== undefined && { read: !unread }) };
				const [result, unreadCount] = await Promise.all([
					this.paginate(query, { page, pageSize, sort: ["read", "-createdAt"] }),
					this.countEntities({ userId, channel: "inapp", read: false }),
				]);
				const rows = result.rows.map((n) => this.publicNotification(n));
				return { rows, total: result.total, unread: unreadCount, page, pageSize };
			},
		},

		get: {
			rest: "GET /notifications/:id",
			params: NOTIFICATION_PARAMS.id,
			async handler(this: ThisService, ctx: Ctx<C.NotificationIdParams>) {
				const notification = await this.getEntityOr404(ctx.params.id, "notification");
				const me = ctx.meta.user!;
				if (me.role !== "admin" && notification.userId !== me.id)
					throw forbidden("You can only see your own notifications");
				return this.publicNotification(notification);
			},
		},

		markRead: {
			rest: "PUT /notifications/:id/read",
			params: NOTIFICATION_PARAMS.id,
			async handler(this: ThisService, ctx: Ctx<C.NotificationIdParams>) {
				const notification = await this.getEntityOr404(ctx.params.id, "notification");
				if (notification.userId !== ctx.meta.user!.id) throw forbidden("You can only mark your own notifications");
				if (notification.read) return this.publicNotification(notification);
				const updated = await this.compareAndSet(
					ctx,
					{ _id: notification._id, read: false },
					{ $set: { read: true, readAt: nowIso() } },
				);
				return this.publicNotification(updated || (await this.getEntityOr404(notification._id, "notification")));
			},
		},

		markAllRead: {
			rest: "PUT /notifications/read",
			params: {},
			async handler(this: ThisService, ctx: Ctx) {
				const marked = await this.records.updateMany(
					{ userId: ctx.meta.user!.id, channel: "inapp", read: false },
					{ $set: { read: true, readAt: nowIso() } },
				);
				await this.clearCache();
				return { marked };
			},
		},

		/** An admin's message to one user or to every active user of a role. */
		send: {
			rest: "POST /notifications",
			auth: { roles: ["admin"] },
			params: NOTIFICATION_PARAMS.send,
			async handler(this: ThisService, ctx: Ctx<C.SendParams>) {
				const { userId, role, subject, body, channels } = ctx.params;
				if (!userId === !role)
					throw unprocessable("Give exactly one of userId or role", { fields: ["userId", "role"] });
				const recipientIds: string[] = userId ? [userId] : await ctx.call("users.idsByRole", { role });
				if (userId && !(await this.contactOf(ctx, userId))) throw notFound("user", userId);
				const messageId = newId();
				const created: Notification[] = [];
				for (const id of recipientIds) {
					const plan: PlannedMessage = {
						template: "admin_message",
						recipient: { kind: "user", userId: id },
						channels,
						vars: { subject, body },
					};
					created.push(...(await this.createMessages(ctx, { id: messageId, type: "admin.message" }, plan)));
				}
				// Accepted: the messages are stored and go out on their channels asynchronously.
				ctx.meta.$statusCode = 202;
				const notifications = created.map((n) => n._id);
				return { accepted: true, id: messageId, messageId, recipients: recipientIds.length, notifications };
			},
		},

		/** Internal: attempt every message that is due now (the sweeper does this too). */
		deliverDue: {
			visibility: "public",
			params: {},
			handler(this: ThisService) {
				return this.deliverDue();
			},
		},
	},

	businessEvents,

	methods: {
		async notifyForEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
			const plans = plannedMessages(envelope, { publicUrl: this.publicUrl });
			for (const plan of plans) await this.createMessages(ctx, { id: envelope.id, type: envelope.type }, plan);
		},

		/** Stores the messages of a plan (one per recipient and usable channel) and starts delivering them. */
		async createMessages(this: ThisService, ctx: Context, source: MessageSource, plan: PlannedMessage) {
			const created: Notification[] = [];
			for (const contact of await this.recipientsOf(ctx, plan)) {
				const muted = contact.id ? await this.mutedFor(contact.id) : [];
				for (const channel of plan.channels) {
					if (isMuted(muted, plan.template, channel)) continue;
					const to = this.addressFor(contact, channel);
					if (!to) continue;
					const doc = await this.storeMessage(ctx, { source, message: plan, contact, channel, to });
					if (doc) created.push(doc);
				}
			}
			return created;
		},

		async recipientsOf(this: ThisService, ctx: Context, plan: PlannedMessage) {
			const r = plan.recipient;
			if (r.kind === "address") return [{ id: null, email: r.email, phone: null, locale: r.locale }];
			const ids: string[] = r.kind === "user" ? [r.userId] : await ctx.call("users.idsByRole", { role: r.role });
			const contacts = await Promise.all(ids.map((id) => this.contactOf(ctx, id)));
			return contacts.filter((c): c is Contact => !!c && c.status !== "deleted" && c.status !== "suspended");
		},

		contactOf(this: ThisService, ctx: Context, userId: string) {
			return ctx.call<Contact | null, { id: string }>("users.contact", { id: userId });
		},

		/** Where a channel reaches the contact, or null when it cannot. */
		addressFor(this: ThisService, contact: Contact, channel: Channel) {
			if (channel === "inapp") return contact.id;
			if (!this.senders[channel]) return null;
			if (channel === "email") return contact.email;
			if (channel === "sms") return contact.phone;
			return contact.id;
		},

		/** Inserts one message (an in-app one with notification.sent); null when the event was seen before. */
		async storeMessage(this: ThisService, ctx: Context, message: NewMessage) {
			const doc = newNotification({ ...message, id: newId(), now: nowIso() });
			const inapp = message.channel === "inapp";
			let saved: Notification;
			try {
				saved = await this.insertEntity(ctx, doc, inapp ? [outcomeEvent("notification.sent", doc)] : []);
			} catch (err) {
				if (isConflict(err)) return null;
				throw err;
			}
			if (!inapp) this.scheduleAttempt(saved._id, 0);
			return saved;
		},

		publicNotification(this: ThisService, n: Notification) {
			return this.toPublic(n, ["notifKey", "claimedAt"]);
		},
	},

	started(this: ThisService) {
		// Read here, not at module load: tests start brokers with their own environment.
		const cfg = config();
		this.publicUrl = cfg.publicUrl;
		this.maxAttempts = cfg.notify.maxAttempts;
		this.retryBaseMs = cfg.notify.retryBaseMs;
		// Longer than any sender's timeout (10 s), so a slow send is never taken for a dead one.
		this.claimTimeoutMs = cfg.notify.claimTimeoutMs;
		this.senders = sendersFromConfig({
			smtpUrl: cfg.smtpUrl,
			mailFrom: cfg.mailFrom,
			log: (line: string) => this.logger.info(line),
		});
	},

	stopped(this: ThisService) {
		for (const sender of Object.values(this.senders || {})) sender.close?.();
	},
};

export = NotificationsService;
