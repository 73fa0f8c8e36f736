/**
 * Notifications: turns business events into messages for the people concerned (lib/templates.ts),
 * in their locale, on their channels. In-app messages are stored (the inbox); e-mail, SMS and
 * push go through senders (lib/senders.ts) with a delivery history, retries with backoff, then
 * `failed`. One message per (event, recipient, channel): a redelivered event sends nothing twice.
 */
import { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser, ROLES } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import { EventEnvelope } from "../lib/domain/events";
import { forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { backoffMs, OutgoingMessage, Sender, sendersFromConfig } from "../lib/infra/senders";
import {
	Channel,
	CHANNELS,
	localizedVars,
	normalizeLocale,
	PlannedMessage,
	plannedMessages,
	render,
	TemplateName,
} from "../lib/domain/templates";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

interface Contact {
	id: string | null;
	email: string | null;
	phone: string | null;
	locale: string;
	status?: string;
}

/** Fields of a stored message its recipient does not need to see. */
const INTERNAL_FIELDS = ["notifKey", "claimedAt"];

const NotificationsService: ServiceSchema = {
	name: "notifications",
	mixins: [
		DbMixin({
			collection: "notifications",
			indexes: [{ fields: { notifKey: 1 }, unique: true }, { fields: { userId: 1 } }, { fields: { status: 1 } }],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		list: {
			rest: "GET /notifications",
			params: {
				channel: { type: "enum", values: CHANNELS, default: "inapp" },
				unread: { type: "boolean", optional: true, convert: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, channel, unread } = ctx.params;
				const userId = ctx.meta.user!.id;
				const query: Doc = { userId, channel };
				if (unread !== undefined) query.read = !unread;
				const [rows, total, unreadCount] = await Promise.all([
					this.findEntities({ query, sort: ["read", "-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
					this.countEntities({ userId, channel: "inapp", read: false }),
				]);
				return { rows: rows.map((n: Doc) => this.publicNotification(n)), total, unread: unreadCount, page, pageSize };
			},
		},

		get: {
			rest: "GET /notifications/:id",
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const notification = await this.getEntityOr404(ctx.params.id, "notification");
				const me = ctx.meta.user!;
				if (me.role !== "admin" && notification.userId !== me.id)
					throw forbidden("You can only see your own notifications");
				return this.publicNotification(notification);
			},
		},

		markRead: {
			rest: "PUT /notifications/:id/read",
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const notification = await this.getEntityOr404(ctx.params.id, "notification");
				if (notification.userId !== ctx.meta.user!.id) throw forbidden("You can only mark your own notifications");
				if (notification.read) return this.publicNotification(notification);
				const updated = await this.compareAndSet(
					ctx,
					{ _id: notification._id, read: false },
					{ $set: { read: true, readAt: nowIso() } },
				);
				return this.publicNotification(updated || (await this.findEntity(notification._id)));
			},
		},

		markAllRead: {
			rest: "PUT /notifications/read",
			params: {},
			async handler(this: any, ctx: Ctx) {
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
			params: {
				userId: { type: "string", max: 64, optional: true },
				role: { type: "enum", values: ROLES, optional: true },
				subject: { type: "string", min: 1, max: 200, trim: true },
				body: { type: "string", min: 1, max: 4000, trim: true },
				channels: {
					type: "array",
					items: { type: "enum", values: CHANNELS },
					min: 1,
					unique: true,
					default: ["inapp"],
				},
			},
			async handler(this: any, ctx: Ctx) {
				const { userId, role, subject, body, channels } = ctx.params;
				if (!userId === !role)
					throw unprocessable("Give exactly one of userId or role", { fields: ["userId", "role"] });
				const recipientIds: string[] = userId ? [userId] : await ctx.call("users.idsByRole", { role });
				if (userId && !(await this.contactOf(ctx, userId))) throw notFound("user", userId);
				const messageId = newId();
				const planned: PlannedMessage = {
					template: "admin_message",
					recipient: { kind: "user", userId: "" },
					channels,
					vars: { subject, body },
				};
				const created: Doc[] = [];
				for (const id of recipientIds) {
					const plan = { ...planned, recipient: { kind: "user" as const, userId: id } };
					created.push(...(await this.createMessages(ctx, { id: messageId, type: "admin.message" }, plan)));
				}
				// Accepted: the messages are stored and go out on their channels asynchronously.
				ctx.meta.$statusCode = 202;
				return { messageId, recipients: recipientIds.length, notifications: created.map((n) => n._id) };
			},
		},

		/** Internal: attempt every message that is due now (the retry timer does this too). */
		deliverDue: {
			visibility: "public",
			params: {},
			handler(this: any) {
				return this.deliverDue();
			},
		},
	} as any,

	businessEvents: {
		async "*"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.handleBusinessEvent(envelope, ctx);
		},
	},

	methods: {
		async handleBusinessEvent(this: any, envelope: EventEnvelope, ctx: Ctx) {
			if (envelope.type.startsWith("notification.")) return;
			const plans = plannedMessages(envelope, { publicUrl: this.publicUrl });
			for (const plan of plans) await this.createMessages(ctx, { id: envelope.id, type: envelope.type }, plan);
		},

		/** Stores the messages of a plan (one per recipient and usable channel) and starts delivering them. */
		async createMessages(this: any, ctx: Ctx, source: { id: string; type: string }, plan: PlannedMessage) {
			const created: Doc[] = [];
			for (const contact of await this.recipientsOf(ctx, plan)) {
				for (const channel of plan.channels) {
					const to = this.addressFor(contact, channel);
					if (!to) continue;
					const doc = await this.storeMessage(ctx, source, plan.template, plan.vars, contact, channel, to);
					if (doc) created.push(doc);
				}
			}
			return created;
		},

		async recipientsOf(this: any, ctx: Ctx, plan: PlannedMessage): Promise<Contact[]> {
			const r = plan.recipient;
			if (r.kind === "address") return [{ id: null, email: r.email, phone: null, locale: r.locale }];
			const ids: string[] = r.kind === "user" ? [r.userId] : await ctx.call("users.idsByRole", { role: r.role });
			const contacts = await Promise.all(ids.map((id) => this.contactOf(ctx, id)));
			return contacts.filter((c: Contact | null) => c && c.status !== "deleted" && c.status !== "suspended");
		},

		async contactOf(this: any, ctx: Ctx, userId: string): Promise<Contact | null> {
			return ctx.call("users.contact", { id: userId });
		},

		/** Where a channel reaches the contact, or null when it cannot. */
		addressFor(this: any, contact: Contact, channel: Channel): string | null {
			if (channel === "inapp") return contact.id;
			if (!this.senders[channel]) return null;
			if (channel === "email") return contact.email;
			if (channel === "sms") return contact.phone;
			return contact.id;
		},

		/** Inserts one message; null when it already exists (the event was seen before). */
		async storeMessage(
			this: any,
			ctx: Ctx,
			source: { id: string; type: string },
			template: TemplateName,
			vars: Doc,
			contact: Contact,
			channel: Channel,
			to: string,
		) {
			const locale = normalizeLocale(contact.locale);
			const { subject, body } = render(template, locale, localizedVars(vars, locale));
			const now = nowIso();
			const doc: Doc = {
				notifKey: `${source.id}|${contact.id || contact.email}|${channel}`,
				eventId: source.id,
				eventType: source.type,
				template,
				userId: contact.id,
				channel,
				to,
				locale,
				subject,
				body,
				read: false,
				status: channel === "inapp" ? "sent" : "pending",
				attempts: channel === "inapp" ? [{ at: now, ok: true }] : [],
				attemptCount: 0,
				nextAttemptAt: now,
				createdAt: now,
				...(channel === "inapp" ? { sentAt: now } : {}),
			};
			let saved: Doc;
			try {
				saved = await this.insertEntity(ctx, doc);
			} catch (err: any) {
				if (err && err.code === 409) return null;
				throw err;
			}
			if (channel === "inapp") await this.publishOutcome("notification.sent", saved, ctx);
			else this.scheduleAttempt(saved._id, 0);
			return saved;
		},

		scheduleAttempt(this: any, id: string, delayMs: number) {
			const timer = setTimeout(() => {
				this.retryTimers.delete(timer);
				this.attemptDelivery(id).catch((err: Error) =>
					this.logger.error({ notificationId: id }, `Delivery attempt crashed: ${err.message}`),
				);
			}, delayMs);
			timer.unref?.();
			this.retryTimers.add(timer);
		},

		/** One attempt to send a pending message; claims it first so two instances never both send it. */
		async attemptDelivery(this: any, id: string) {
			if (this.stopping) return;
			const claimed = await this.compareAndSet(
				null,
				{ _id: id, status: "pending", nextAttemptAt: { $lte: nowIso() } },
				{ $set: { status: "sending", claimedAt: nowIso() } },
			);
			if (!claimed) return;
			const sender: Sender | undefined = this.senders[claimed.channel];
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
				const sent = await this.updateEntity(null, id, {
					$set: { status: "sent", sentAt: nowIso(), attemptCount: attempt },
					$push: { attempts: { at: nowIso(), ok: true, providerId: result.providerId || null } },
				});
				await this.publishOutcome("notification.sent", sent, null);
			} catch (err: any) {
				await this.recordFailure(claimed, attempt, String((err && err.message) || err).slice(0, 500));
			}
		},

		async recordFailure(this: any, claimed: Doc, attempt: number, error: string) {
			const failedForGood = attempt >= this.maxAttempts;
			const delay = backoffMs(attempt, this.retryBaseMs);
			const updated = await this.updateEntity(null, claimed._id, {
				$set: {
					status: failedForGood ? "failed" : "pending",
					attemptCount: attempt,
					lastError: error,
					nextAttemptAt: new Date(Date.now() + delay).toISOString(),
					...(failedForGood ? { failedAt: nowIso() } : {}),
				},
				$push: { attempts: { at: nowIso(), ok: false, error } },
			});
			this.logger.warn(
				{ notificationId: claimed._id, channel: claimed.channel, attempt },
				`Notification delivery failed: ${error}`,
			);
			if (failedForGood) await this.publishOutcome("notification.failed", updated, null, error);
			else this.scheduleAttempt(claimed._id, delay);
		},

		async publishOutcome(this: any, type: string, n: Doc, ctx: Ctx | null, error?: string) {
			await this.publishEvent(
				type,
				{
					notificationId: n._id,
					userId: n.userId,
					channel: n.channel,
					eventType: n.eventType,
					...(error ? { error } : {}),
				},
				ctx,
				"system",
			);
		},

		/** Pending messages whose time has come (after a restart, or a missed timer). */
		async deliverDue(this: any) {
			await this.reclaimAbandoned();
			const due = await this.findEntities({
				query: { status: "pending", nextAttemptAt: { $lte: nowIso() } },
				limit: 100,
			});
			for (const n of due) await this.attemptDelivery(n._id);
			return { attempted: due.length };
		},

		/** A message claimed by an instance that died while sending goes back to pending. */
		async reclaimAbandoned(this: any) {
			const before = new Date(Date.now() - this.claimTimeoutMs).toISOString();
			const stuck = await this.findEntities({ query: { status: "sending", claimedAt: { $lt: before } }, limit: 100 });
			for (const n of stuck)
				await this.compareAndSet(
					null,
					{ _id: n._id, status: "sending", claimedAt: n.claimedAt },
					{ $set: { status: "pending" } },
				);
		},

		publicNotification(this: any, n: Doc) {
			return this.toPublic(n, INTERNAL_FIELDS);
		},
	},

	created(this: any) {
		this.retryTimers = new Set();
	},

	started(this: any) {
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
		this.sweeper = setInterval(
			() => this.deliverDue().catch((err: Error) => this.logger.warn(`Delivery sweep failed: ${err.message}`)),
			cfg.notify.sweepMs,
		);
		this.sweeper.unref?.();
	},

	stopped(this: any) {
		this.stopping = true;
		clearInterval(this.sweeper);
		for (const timer of this.retryTimers) clearTimeout(timer);
		this.retryTimers.clear();
		for (const sender of Object.values(this.senders || {}) as Sender[]) sender.close?.();
	},
};

export = NotificationsService;
