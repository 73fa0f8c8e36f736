/**
 * Notifications: turns business events into messages for the people concerned
 * (lib/domain/templates.ts), in their locale, on their channels. In-app messages are stored (the
 * inbox); e-mail, SMS and push go through senders (lib/infra/senders.ts) with a delivery history,
 * retries with backoff, then `failed`. One message per (event, recipient, channel): a redelivered
 * event sends nothing twice. notification.sent / notification.failed are recorded with the write
 * that changes the message's status.
 */
import { Context, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { PendingEvent } from "../lib/contracts/events";
import { NOTIFICATION_PARAMS } from "../lib/contracts/notifications";
import type * as C from "../lib/contracts/notifications";
import type { Contact, Notification } from "../lib/contracts/notifications";
import { config } from "../lib/infra/config";
import { EventEnvelope } from "../lib/domain/events";
import { forbidden, isConflict, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { backoffMs, OutgoingMessage, Sender, sendersFromConfig } from "../lib/infra/senders";
import { localizedVars, normalizeLocale, NOTIFIED_EVENTS, plannedMessages, render } from "../lib/domain/templates";
import type { Channel, PlannedMessage, TemplateName, Vars } from "../lib/domain/templates";
import { isMuted } from "../lib/domain/reminders";
import { PreferenceMethods, preferencesSchema } from "./parts/notifications/preferences.mixin";

interface Source {
	id: string;
	type: string;
}

interface OwnMethods {
	notifyForEvent(envelope: EventEnvelope<object>, ctx: Context): Promise<void>;
	createMessages(ctx: Context, source: Source, plan: PlannedMessage): Promise<Notification[]>;
	recipientsOf(ctx: Context, plan: PlannedMessage): Promise<Contact[]>;
	contactOf(ctx: Context, userId: string): Promise<Contact | null>;
	addressFor(contact: Contact, channel: Channel): string | null;
	storeMessage(
		ctx: Context,
		source: Source,
		message: { template: TemplateName; vars: Vars },
		contact: Contact,
		channel: Channel,
		to: string,
	): Promise<Notification | null>;
	scheduleAttempt(id: string, delayMs: number): void;
	attemptDelivery(id: string): Promise<void>;
	recordFailure(claimed: Notification, attempt: number, error: string): Promise<void>;
	deliverDue(): Promise<{ attempted: number }>;
	reclaimAbandoned(): Promise<void>;
	publicNotification(n: Notification): Omit<Notification, "_id" | "notifKey" | "claimedAt"> & { id: string };
}

type ThisService = Service<{ rest: string }> &
	DbMethods<Notification> &
	EventsMethods &
	OwnMethods &
	PreferenceMethods & {
		senders: Partial<Record<Channel, Sender>>;
		retryTimers: Set<NodeJS.Timeout>;
		stopping: boolean;
		publicUrl: string;
		maxAttempts: number;
		retryBaseMs: number;
		claimTimeoutMs: number;
	};

/** The event of a message's outcome, recorded with the write that sets its status. */
function outcome(type: "notification.sent" | "notification.failed", n: Notification, error?: string): PendingEvent {
	const data = { notificationId: n._id, userId: n.userId, channel: n.channel, eventType: n.eventType };
	return { type, data: error ? { ...data, error } : data };
}

async function onNotifiedEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
	await this.notifyForEvent(envelope, ctx);
}
/** Only the events that call for messages (lib/domain/templates.ts NOTIFIED_EVENTS). */
const businessEvents: BusinessEventHandlers<ThisService> = Object.fromEntries(
	NOTIFIED_EVENTS.map((t) => [t, onNotifiedEvent]),
);

const NotificationsService: ServiceSchema<{ rest: string }, ThisService> = {
	name: "notifications",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		preferencesSchema,
		TimersMixin,
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
				return { messageId, recipients: recipientIds.length, notifications: created.map((n) => n._id) };
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
		/** Not `handleBusinessEvent`: a method of that name overrode EventsMixin's and no event was handled. */
		async notifyForEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
			const plans = plannedMessages(envelope, { publicUrl: this.publicUrl });
			for (const plan of plans) await this.createMessages(ctx, { id: envelope.id, type: envelope.type }, plan);
		},

		/** Stores the messages of a plan (one per recipient and usable channel) and starts delivering them. */
		async createMessages(this: ThisService, ctx: Context, source: Source, plan: PlannedMessage) {
			const created: Notification[] = [];
			for (const contact of await this.recipientsOf(ctx, plan)) {
				const muted = contact.id ? await this.mutedFor(contact.id) : [];
				for (const channel of plan.channels) {
					if (isMuted(muted, plan.template, channel)) continue;
					const to = this.addressFor(contact, channel);
					if (!to) continue;
					const doc = await this.storeMessage(ctx, source, plan, contact, channel, to);
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
		async storeMessage(
			this: ThisService,
			ctx: Context,
			source: Source,
			message: { template: TemplateName; vars: Vars },
			contact: Contact,
			channel: Channel,
			to: string,
		) {
			const locale = normalizeLocale(contact.locale);
			const { subject, body } = render(message.template, locale, localizedVars(message.vars, locale));
			const now = nowIso();
			const inapp = channel === "inapp";
			const doc: Notification = {
				_id: newId(),
				notifKey: `${source.id}|${contact.id || contact.email}|${channel}`,
				eventId: source.id,
				eventType: source.type,
				template: message.template,
				userId: contact.id,
				channel,
				to,
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
			let saved: Notification;
			try {
				saved = await this.insertEntity(ctx, doc, inapp ? [outcome("notification.sent", doc)] : []);
			} catch (err) {
				if (isConflict(err)) return null;
				throw err;
			}
			if (!inapp) this.scheduleAttempt(saved._id, 0);
			return saved;
		},

		/** A "notifications.retry" timer: one delivery attempt after `delayMs`. */
		scheduleAttempt(this: ThisService, id: string, delayMs: number) {
			const timer = setTimeout(() => {
				this.retryTimers.delete(timer);
				this.attemptDelivery(id).catch((err: Error) =>
					this.logger.error({ notificationId: id }, `[notifications.retry] attempt crashed: ${err.message}`),
				);
			}, delayMs);
			timer.unref?.();
			this.retryTimers.add(timer);
		},

		/** One attempt to send a pending message; claims it first so two instances never both send it. */
		async attemptDelivery(this: ThisService, id: string) {
			if (this.stopping) return;
			const claimed = await this.compareAndSet(
				null,
				{ _id: id, status: "pending", nextAttemptAt: { $lte: nowIso() } },
				{ $set: { status: "sending", claimedAt: nowIso() } },
			);
			if (!claimed) return;
			const sender = this.senders[claimed.channel];
			const attempt = claimed.attemptCount + 1;
			try {
				if (!sender) throw new Error(`No sender for channel ${claimed.channel}`);
				const message: OutgoingMessage = {
					notificationId: claimed._id,
					channel: claimed.channel,
					to: claimed.to,
					subject: claimed.subject,
					text: claimed.body,
				};
				const result = await sender.send(message);
				await this.updateEntity(
					null,
					id,
					{
						$set: { status: "sent", sentAt: nowIso(), attemptCount: attempt },
						$push: { attempts: { at: nowIso(), ok: true, providerId: result.providerId || null } },
					},
					[outcome("notification.sent", claimed)],
				);
			} catch (err) {
				await this.recordFailure(claimed, attempt, String((err as Error)?.message ?? err).slice(0, 500));
			}
		},

		/** Back to pending with a backoff, or failed for good (with notification.failed) after the last attempt. */
		async recordFailure(this: ThisService, claimed: Notification, attempt: number, error: string) {
			const failedForGood = attempt >= this.maxAttempts;
			const delay = backoffMs(attempt, this.retryBaseMs);
			await this.updateEntity(
				null,
				claimed._id,
				{
					$set: {
						status: failedForGood ? "failed" : "pending",
						attemptCount: attempt,
						lastError: error,
						nextAttemptAt: new Date(Date.now() + delay).toISOString(),
						...(failedForGood ? { failedAt: nowIso() } : {}),
					},
					$push: { attempts: { at: nowIso(), ok: false, error } },
				},
				failedForGood ? [outcome("notification.failed", claimed, error)] : [],
			);
			this.logger.warn(
				{ notificationId: claimed._id, channel: claimed.channel, attempt },
				`Notification delivery failed: ${error}`,
			);
			if (!failedForGood) this.scheduleAttempt(claimed._id, delay);
		},

		/** Pending messages whose time has come (after a restart, or a missed timer). */
		async deliverDue(this: ThisService) {
			await this.reclaimAbandoned();
			const due = await this.findEntities({
				query: { status: "pending", nextAttemptAt: { $lte: nowIso() } },
				limit: 100,
			});
			for (const n of due) await this.attemptDelivery(n._id);
			return { attempted: due.length };
		},

		/** A message claimed by an instance that died while sending goes back to pending. */
		async reclaimAbandoned(this: ThisService) {
			const before = new Date(Date.now() - this.claimTimeoutMs).toISOString();
			const stuck = await this.findEntities({ query: { status: "sending", claimedAt: { $lt: before } }, limit: 100 });
			for (const n of stuck)
				await this.compareAndSet(
					null,
					{ _id: n._id, status: "sending", claimedAt: n.claimedAt },
					{ $set: { status: "pending" } },
				);
		},

		publicNotification(this: ThisService, n: Notification) {
			return this.toPublic(n, ["notifKey", "claimedAt"]);
		},
	},

	created(this: ThisService) {
		this.retryTimers = new Set();
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
		this.stopping = false;
	},

	// TimersMixin: attempts every message that is due, every NOTIFY_SWEEP_MS; a sweep still running
	// when the next is due is skipped.
	timers: {
		sweeper: {
			everyMs: () => config().notify.sweepMs,
			run(this: ThisService) {
				return this.deliverDue();
			},
		},
	} satisfies TimerJobs<ThisService>,

	stopped(this: ThisService) {
		this.stopping = true;
		for (const timer of this.retryTimers) clearTimeout(timer);
		this.retryTimers.clear();
		for (const sender of Object.values(this.senders || {})) sender.close?.();
	},
};

export = NotificationsService;
