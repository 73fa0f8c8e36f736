/**
 * Alerts: rules (lib/alert-rules.ts) evaluated over the event stream and on a timer, one open
 * alert per condition (a unique `openKey` while open), escalation 1 → 2 → 3 while unresolved,
 * resolution by an admin (or automatically when the condition ends), and dead-lettered messages
 * that an admin can replay.
 *
 * One collection holds four kinds of record: alerts, rule overrides ("rule:<name>"), timed watches
 * ("watch:<rule>:<subject>", conditions that become alerts if they last) and windowed samples
 * ("sample:<eventId>", for failure rates).
 */
import { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { channelName, EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { DEAD_LETTER_TOPIC, EventEnvelope, isEnvelope, topicOf } from "../lib/domain/events";
import { conflict, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import {
	dedupKey,
	effectiveRule,
	isRuleName,
	nextEscalationAt,
	notificationFailuresBreached,
	overdue,
	paymentFailureBreached,
	RULE_NAMES,
	RuleConfig,
	ruleChangeProblems,
	RuleName,
	SEVERITIES,
	Severity,
	shouldEscalate,
	watchChanges,
	windowStats,
} from "../lib/domain/alert-rules";
import { config } from "../lib/infra/config";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

interface Raise {
	rule: RuleName;
	subject?: string | null;
	summary: string;
	details?: Doc;
	severity?: Severity;
	by?: string;
}

const ALERT_HIDDEN = ["record", "openKey"];

const RELEVANT_EVENTS = new Set([
	"payment.processed",
	"payment.failed",
	"notification.failed",
	"inventory.updated",
	"delivery.unassigned",
	"order.confirmed",
	"courier.assigned",
	"order.delivered",
	"order.cancelled",
	"verification.requested",
	"verification.approved",
	"verification.rejected",
]);

const AlertsService: ServiceSchema = {
	name: "alerts",
	mixins: [
		DbMixin({
			collection: "alerts",
			indexes: [
				{ fields: { openKey: 1 }, unique: true, sparse: true },
				{ fields: { record: 1 } },
				{ fields: { status: 1 } },
			],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		raise: {
			rest: "POST /alerts",
			auth: { roles: ["admin"] },
			params: {
				summary: { type: "string", min: 1, max: 500, trim: true },
				severity: { type: "enum", values: SEVERITIES, default: "warning" },
				key: { type: "string", min: 1, max: 120, optional: true, pattern: /^[\w.:-]+$/ },
				details: { type: "object", optional: true, strict: false, maxProps: 50 },
			},
			async handler(this: any, ctx: Ctx) {
				const { summary, severity, key, details } = ctx.params;
				const result = await this.raiseAlert(ctx, {
					rule: "manual",
					subject: key || newId(),
					summary,
					severity,
					details,
					by: ctx.meta.user!.id,
				});
				if (result.created) {
					ctx.meta.$statusCode = 201;
					ctx.meta.$location = `/api/alerts/${result.alert._id}`;
				}
				return { ...this.publicAlert(result.alert), deduplicated: !result.created };
			},
		},

		list: {
			rest: "GET /alerts",
			auth: { roles: ["admin"] },
			params: {
				status: { type: "enum", values: ["open", "resolved"], optional: true },
				severity: { type: "enum", values: SEVERITIES, optional: true },
				rule: { type: "enum", values: RULE_NAMES, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, ...filters } = ctx.params;
				const query: Doc = { record: "alert" };
				for (const field of ["status", "severity", "rule"]) if (filters[field]) query[field] = filters[field];
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((a: Doc) => this.publicAlert(a)), total, page, pageSize };
			},
		},

		rules: {
			rest: "GET /alerts/rules",
			auth: { roles: ["admin"] },
			params: {},
			async handler(this: any) {
				const rules: Doc = {};
				for (const name of RULE_NAMES) rules[name] = await this.ruleConfig(name);
				return rules;
			},
		},

		updateRule: {
			rest: "PUT /alerts/rules/:rule",
			auth: { roles: ["admin"] },
			params: {
				rule: { type: "string", max: 64 },
				enabled: { type: "boolean", optional: true },
				severity: { type: "enum", values: SEVERITIES, optional: true },
				threshold: { type: "number", positive: true, optional: true },
				windowMinutes: { type: "number", positive: true, max: 7 * 24 * 60, optional: true },
				minSample: { type: "number", integer: true, min: 1, optional: true },
				thresholdMinutes: { type: "number", min: 0, max: 30 * 24 * 60, optional: true },
				escalationMinutes: { type: "array", items: { type: "number", positive: true }, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { rule, ...change } = ctx.params;
				if (!isRuleName(rule)) throw notFound("alert rule", rule);
				const problems = ruleChangeProblems(rule, change);
				if (problems.length) throw unprocessable(problems.join("; "), { problems });
				await this.saveRuleOverride(ctx, rule, change);
				return this.ruleConfig(rule);
			},
		},

		get: {
			rest: "GET /alerts/:id",
			auth: { roles: ["admin"] },
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				return this.publicAlert(await this.alertOr404(ctx.params.id));
			},
		},

		resolve: {
			rest: "PUT /alerts/:id/resolve",
			auth: { roles: ["admin"] },
			params: { id: { type: "string", max: 64 }, note: { type: "string", min: 1, max: 1000, trim: true } },
			async handler(this: any, ctx: Ctx) {
				const alert = await this.alertOr404(ctx.params.id);
				const resolved = await this.resolveAlert(ctx, alert, ctx.params.note, ctx.meta.user!.id);
				if (!resolved) throw conflict("This alert is already resolved");
				return this.publicAlert(resolved);
			},
		},

		replay: {
			rest: "POST /alerts/:id/replay",
			auth: { roles: ["admin"] },
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const alert = await this.alertOr404(ctx.params.id);
				const envelope = alert.details && alert.details.envelope;
				if (alert.rule !== "dead_letter" || !isEnvelope(envelope))
					throw conflict("Only dead-letter alerts hold a message to replay");
				await (this.broker as any).sendToChannel(channelName(topicOf(envelope.type)), envelope);
				const updated = await this.updateEntity(ctx, alert._id, {
					$inc: { replays: 1 },
					$push: { history: { at: nowIso(), action: "replayed", by: ctx.meta.user!.id } },
				});
				return { ...this.publicAlert(updated), replayedEventId: envelope.id };
			},
		},

		/** Internal: raise the timed conditions that have lasted too long (the timer does this too). */
		evaluateTimers: {
			visibility: "public",
			params: { now: { type: "string", max: 40, optional: true } },
			handler(this: any, ctx: Ctx) {
				return this.evaluateTimers(ctx.params.now || nowIso());
			},
		},

		/** Internal: escalate open alerts past their policy's delay (the timer does this too). */
		escalateDue: {
			visibility: "public",
			params: { now: { type: "string", max: 40, optional: true } },
			handler(this: any, ctx: Ctx) {
				return this.escalateDue(ctx.params.now || nowIso());
			},
		},
	} as any,

	businessEvents: {
		async "*"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.evaluateEvent(envelope, ctx);
		},
	},

	channels: {
		[channelName(DEAD_LETTER_TOPIC)]: {
			group: "alerts",
			async handler(this: any, letter: any) {
				await this.raiseDeadLetter(letter);
			},
		},
	},

	methods: {
		/**
		 * The mixin's ledger already drops redelivered envelopes; the "seen" mark makes the rules'
		 * effects idempotent on their own (a crash between handling and the ledger write, a replay).
		 */
		async evaluateEvent(this: any, envelope: EventEnvelope, ctx: Ctx) {
			if (!RELEVANT_EVENTS.has(envelope.type)) return;
			const mark = `seen:${envelope.id}`;
			if (await this.findEntity(mark)) return;
			await this.applyRules(envelope, ctx);
			try {
				await this.insertEntity(null, { _id: mark, record: "seen", type: envelope.type, at: envelope.time });
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
			}
		},

		async applyRules(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const d = envelope.data || {};
			switch (envelope.type) {
				case "payment.processed":
				case "payment.failed":
					await this.addSample(envelope, "payment", envelope.type === "payment.failed");
					await this.evaluatePaymentFailures(ctx, envelope.time);
					break;
				case "notification.failed":
					await this.addSample(envelope, "notification", true);
					await this.evaluateNotificationFailures(ctx, envelope.time);
					break;
				case "inventory.updated":
					await this.evaluateStock(ctx, d);
					break;
				case "delivery.unassigned":
					await this.raiseAlert(ctx, {
						rule: "courier_wait",
						subject: d.orderId,
						summary: `Order ${d.orderId} has waited ${Math.round((d.waitedSeconds || 0) / 60)} min for a courier`,
						details: { orderId: d.orderId, supplierId: d.supplierId, waitedSeconds: d.waitedSeconds },
					});
					break;
			}
			for (const change of watchChanges(envelope)) {
				if ("open" in change) await this.openWatch(change.open);
				else await this.closeWatch(ctx, change.close);
			}
		},

		async evaluateStock(this: any, ctx: Ctx, d: Doc) {
			if (!d.productId) return;
			if (d.lowStock) {
				await this.raiseAlert(ctx, {
					rule: "low_stock",
					subject: d.productId,
					summary: `Low stock: product ${d.productId} has ${d.stock} available (threshold ${d.lowStockThreshold})`,
					details: { productId: d.productId, supplierId: d.supplierId, stock: d.stock, reserved: d.reserved },
				});
			} else await this.autoResolve(ctx, dedupKey("low_stock", d.productId), "stock is above its threshold again");
		},

		async addSample(this: any, envelope: EventEnvelope, series: string, failed: boolean) {
			try {
				await this.insertEntity(null, {
					_id: `sample:${envelope.id}`,
					record: "sample",
					series,
					failed,
					at: envelope.time,
				});
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
			}
		},

		async samplesSince(this: any, series: string, now: string, windowMinutes: number) {
			const since = new Date(Date.parse(now) - windowMinutes * 60_000).toISOString();
			return this.findEntities({ query: { record: "sample", series, at: { $gt: since } } });
		},

		async evaluatePaymentFailures(this: any, ctx: Ctx, now: string) {
			const rule: RuleConfig = await this.ruleConfig("payment_failure_rate");
			const stats = windowStats(await this.samplesSince("payment", now, rule.windowMinutes!), now, rule.windowMinutes!);
			const key = dedupKey("payment_failure_rate");
			if (paymentFailureBreached(stats, rule)) {
				await this.raiseAlert(ctx, {
					rule: "payment_failure_rate",
					summary: `${stats.failed} of ${stats.total} payments failed in the last ${rule.windowMinutes} min (${Math.round(stats.rate * 100)}%)`,
					details: stats,
				});
			} else if (stats.total >= (rule.minSample ?? 1))
				await this.autoResolve(ctx, key, `failure rate back to ${Math.round(stats.rate * 100)}%`);
		},

		async evaluateNotificationFailures(this: any, ctx: Ctx, now: string) {
			const rule: RuleConfig = await this.ruleConfig("notification_failures");
			const stats = windowStats(
				await this.samplesSince("notification", now, rule.windowMinutes!),
				now,
				rule.windowMinutes!,
			);
			if (!notificationFailuresBreached(stats, rule)) return;
			await this.raiseAlert(ctx, {
				rule: "notification_failures",
				summary: `${stats.failed} notifications failed in the last ${rule.windowMinutes} min`,
				details: stats,
			});
		},

		async openWatch(this: any, watch: { rule: RuleName; subject: string; dueSince: string; info: Doc }) {
			if (!watch.subject) return;
			try {
				await this.insertEntity(null, {
					_id: `watch:${watch.rule}:${watch.subject}`,
					record: "watch",
					...watch,
					closed: false,
					alerted: false,
					openedAt: nowIso(),
				});
			} catch (err: any) {
				// Already watched, or already closed by an event that overtook this one.
				if (!(err && err.code === 409)) throw err;
			}
		},

		async closeWatch(this: any, ctx: Ctx, watch: { rule: RuleName; subject: string; reason: string }) {
			if (!watch.subject) return;
			const id = `watch:${watch.rule}:${watch.subject}`;
			const set = { closed: true, closedAt: nowIso(), closeReason: watch.reason };
			const closed = await this.compareAndSet(null, { _id: id, closed: false }, { $set: set });
			if (!closed) {
				try {
					await this.insertEntity(null, { _id: id, record: "watch", rule: watch.rule, subject: watch.subject, ...set });
				} catch (err: any) {
					if (!(err && err.code === 409)) throw err;
				}
			}
			await this.autoResolve(ctx, dedupKey(watch.rule, watch.subject), watch.reason);
		},

		/** Raises the watched conditions that have lasted past their rule's threshold. */
		async evaluateTimers(this: any, now: string) {
			const watches = await this.findEntities({ query: { record: "watch", closed: false, alerted: false } });
			let raised = 0;
			for (const watch of watches) {
				const rule: RuleConfig = await this.ruleConfig(watch.rule);
				if (!rule.enabled || !overdue(watch.dueSince, now, rule.thresholdMinutes ?? 0)) continue;
				const claimed = await this.compareAndSet(null, { _id: watch._id, alerted: false }, { $set: { alerted: true } });
				if (!claimed) continue;
				const result = await this.raiseAlert(null, {
					rule: watch.rule,
					subject: watch.subject,
					summary: this.watchSummary(watch, now),
					details: { ...watch.info, since: watch.dueSince },
				});
				if (result && result.created) raised++;
			}
			return { raised };
		},

		watchSummary(watch: Doc, now: string): string {
			const minutes = Math.round((Date.parse(now) - Date.parse(watch.dueSince)) / 60_000);
			if (watch.rule === "courier_wait") return `Order ${watch.subject} has waited ${minutes} min for a courier`;
			if (watch.rule === "late_delivery")
				return `Order ${watch.subject} is ${minutes} min past its promised delivery time`;
			return `Verification of user ${watch.subject} has waited ${minutes} min for review`;
		},

		/**
		 * One open alert per dedup key: a new condition inserts (and publishes alert.triggered); the
		 * same open condition only counts another occurrence.
		 */
		async raiseAlert(this: any, ctx: Ctx | null, raise: Raise): Promise<{ alert: Doc; created: boolean } | null> {
			const rule: RuleConfig = await this.ruleConfig(raise.rule);
			if (!rule.enabled) return null;
			const key = dedupKey(raise.rule, raise.subject);
			const now = nowIso();
			const severity = raise.severity || rule.severity;
			const doc = {
				record: "alert",
				rule: raise.rule,
				key,
				openKey: key,
				severity,
				status: "open",
				level: 1,
				summary: raise.summary,
				details: raise.details || {},
				raisedBy: raise.by || "system",
				occurrences: 1,
				createdAt: now,
				lastSeenAt: now,
				levelSince: now,
				escalateAt: nextEscalationAt(1, now, rule),
				history: [{ at: now, action: "triggered", level: 1, by: raise.by || "system" }],
			};
			try {
				const alert = await this.insertEntity(ctx, doc);
				await this.publishAlertEvent("alert.triggered", alert, ctx);
				return { alert, created: true };
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
			}
			const open = await this.findOneEntity({ openKey: key });
			if (!open) return this.raiseAlert(ctx, raise); // resolved in between: raise anew
			const seen = await this.compareAndSet(
				ctx,
				{ _id: open._id, status: "open" },
				{ $inc: { occurrences: 1 }, $set: { lastSeenAt: now } },
			);
			return { alert: seen || open, created: false };
		},

		async raiseDeadLetter(this: any, letter: any) {
			if (!letter || !isEnvelope(letter.envelope)) {
				this.logger.warn("Ignored a dead letter without an envelope.");
				return;
			}
			await this.eventLedgerReady;
			await this.raiseAlert(null, {
				rule: "dead_letter",
				subject: `${letter.envelope.id}:${letter.consumer}`,
				summary: `${letter.consumer} could not handle ${letter.envelope.type}: ${String(letter.error).slice(0, 200)}`,
				details: {
					envelope: letter.envelope,
					consumer: letter.consumer,
					error: letter.error,
					failedAt: letter.failedAt,
				},
			});
		},

		async resolveAlert(this: any, ctx: Ctx | null, alert: Doc, note: string, by: string): Promise<Doc | null> {
			const now = nowIso();
			const resolved = await this.compareAndSet(
				ctx,
				{ _id: alert._id, status: "open" },
				{
					$set: { status: "resolved", resolvedAt: now, resolvedBy: by, note, escalateAt: null },
					$unset: { openKey: true },
					$push: { history: { at: now, action: "resolved", level: alert.level, by, note } },
				},
			);
			if (resolved) await this.publishAlertEvent("alert.resolved", resolved, ctx, note);
			return resolved;
		},

		async autoResolve(this: any, ctx: Ctx, key: string, note: string) {
			const open = await this.findOneEntity({ openKey: key });
			if (open) await this.resolveAlert(ctx, open, note, "system");
		},

		/** Moves each overdue open alert up one level and tells admins again (via alert.escalated). */
		async escalateDue(this: any, now: string) {
			const open = await this.findEntities({ query: { record: "alert", status: "open", escalateAt: { $lte: now } } });
			let escalated = 0;
			for (const alert of open) {
				if (!shouldEscalate(alert, now)) continue;
				const rule: RuleConfig = await this.ruleConfig(alert.rule);
				const level = alert.level + 1;
				const updated = await this.compareAndSet(
					null,
					{ _id: alert._id, status: "open", level: alert.level },
					{
						$set: { level, levelSince: now, escalateAt: nextEscalationAt(level, now, rule) },
						$push: { history: { at: now, action: "escalated", level, by: "system" } },
					},
				);
				if (!updated) continue;
				escalated++;
				await this.publishAlertEvent("alert.escalated", updated, null);
			}
			return { escalated };
		},

		async publishAlertEvent(this: any, type: string, alert: Doc, ctx: Ctx | null, note?: string) {
			await this.publishEvent(
				type,
				{
					alertId: alert._id,
					rule: alert.rule,
					severity: alert.severity,
					key: alert.key,
					level: alert.level,
					summary: alert.summary,
					...(note !== undefined ? { note } : {}),
				},
				ctx,
				ctx ? undefined : "system",
			);
		},

		async ruleConfig(this: any, name: RuleName): Promise<RuleConfig> {
			const override = await this.findEntity(`rule:${name}`);
			return effectiveRule(name, override ? override.config : null);
		},

		async saveRuleOverride(this: any, ctx: Ctx, name: RuleName, change: Partial<RuleConfig>) {
			const id = `rule:${name}`;
			const set = Object.fromEntries(Object.entries(change).map(([k, v]) => [`config.${k}`, v]));
			const updated = await this.compareAndSet(
				ctx,
				{ _id: id },
				{ $set: { ...set, updatedAt: nowIso(), updatedBy: ctx.meta.user!.id } },
			);
			if (updated) return;
			try {
				await this.insertEntity(ctx, {
					_id: id,
					record: "rule",
					config: change,
					updatedAt: nowIso(),
					updatedBy: ctx.meta.user!.id,
				});
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
				await this.compareAndSet(ctx, { _id: id }, { $set: set });
			}
		},

		async alertOr404(this: any, id: string): Promise<Doc> {
			const alert = await this.findEntity(id);
			if (!alert || alert.record !== "alert") throw notFound("alert", id);
			return alert;
		},

		publicAlert(this: any, alert: Doc) {
			return this.toPublic(alert, ALERT_HIDDEN);
		},

		async runTimers(this: any) {
			const now = nowIso();
			await this.evaluateTimers(now);
			await this.escalateDue(now);
		},
	},

	started(this: any) {
		const everyMs = config().alertEscalationCheckMs;
		this.timer = setInterval(() => {
			this.runTimers().catch((err: Error) => this.logger.warn(`Alert timers failed: ${err.message}`));
		}, everyMs);
		this.timer.unref?.();
	},

	stopped(this: any) {
		clearInterval(this.timer);
	},
};

export = AlertsService;
