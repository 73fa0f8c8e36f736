/**
 * Alerts: rules (lib/domain/alert-rules.ts) evaluated over the event stream and on a timer, one
 * open alert per condition (a unique `openKey` while open), escalation 1 → 2 → 3 while unresolved,
 * resolution by an admin (or automatically when the condition ends), and dead-lettered messages
 * that an admin can replay.
 *
 * Records: alerts (the main collection) and the kinds rules (overrides), watches (conditions that
 * become alerts if they last), seen (events already applied) and counters (failures per minute,
 * kept only for the rule's window, so every evaluation costs O(window), not O(history)).
 */
import { Context, Service, ServiceBroker, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, channelName, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { EventMap, EventName, PendingEvent } from "../lib/contracts/events";
import { ALERT_PARAMS } from "../lib/contracts/alerts";
import type * as C from "../lib/contracts/alerts";
import type { Alert, RuleOverride, SeenMark, Watch, WindowBucket } from "../lib/contracts/alerts";
import { DEAD_LETTER_TOPIC, EventEnvelope, isEnvelope, topicOf } from "../lib/domain/events";
import { conflict, isConflict, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { config } from "../lib/infra/config";
import { insertOnce, WindowCounters } from "../lib/infra/window-counters";
import { RuleStore, WatchStore } from "../lib/infra/alert-stores";
import * as R from "../lib/domain/alert-rules";
import type { Raise, RuleConfig, RuleName, Series, WindowStats } from "../lib/domain/alert-rules";

/** An envelope whose `data` is typed by its `type` (switch on `type` to narrow). */
type TypedEnvelope = { [K in EventName]: EventEnvelope<EventMap[K]> & { type: K } }[EventName];

interface Settings {
	rest: string;
}

interface OwnMethods {
	evaluateEvent(envelope: EventEnvelope<object>, ctx: Context | null): Promise<void>;
	applyRules(envelope: TypedEnvelope, ctx: Context | null): Promise<void>;
	windowOf(series: Series, now: string): Promise<{ rule: RuleConfig; stats: WindowStats; bucketsRead: number }>;
	evaluateWindow(ctx: Context | null, series: Series, now: string, details?: Record<string, unknown>): Promise<void>;
	evaluateTimers(now: string): Promise<{ raised: number }>;
	raiseAlert(ctx: Context | null, raise: Raise): Promise<{ alert: Alert; created: boolean } | null>;
	raiseDeadLetter(letter: unknown): Promise<void>;
	resolveAlert(ctx: Context | null, alert: Alert, note: string, by: string): Promise<Alert | null>;
	autoResolve(ctx: Context | null, key: string, note: string): Promise<void>;
	escalateDue(now: string): Promise<{ escalated: number }>;
	ruleConfig(name: RuleName): Promise<RuleConfig>;
	publicAlert(alert: Alert): Omit<Alert, "_id" | "openKey"> & { id: string };
	runTimers(): Promise<void>;
}

type ThisService = Service<Settings> &
	DbMethods<Alert> &
	EventsMethods &
	OwnMethods & {
		broker: ServiceBroker & { sendToChannel(channel: string, payload: unknown): Promise<void> };
		counters: WindowCounters;
		rules: RuleStore;
		watches: WatchStore;
	};

/** Applies the rules to an event (registered for each type the rules use, nothing else). */
async function onEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
	await this.evaluateEvent(envelope, ctx);
}
const RULE_EVENTS = [
	"payment.processed",
	"payment.failed",
	"notification.failed",
	"reconciliation.mismatch",
	"inventory.updated",
	"delivery.unassigned",
	"review.submitted",
	...R.WATCHED_EVENTS,
] as const satisfies readonly EventName[];
const businessEvents: BusinessEventHandlers<ThisService> = Object.fromEntries(RULE_EVENTS.map((t) => [t, onEvent]));

const AlertsService: ServiceSchema<Settings, ThisService> = {
	name: "alerts",
	// EventsMixin first: Moleculer starts mixins last-to-first, and the events mixin finds its outbox
	// and ledger in DbMixin's store only when that has started (otherwise it falls back to memory).
	mixins: [
		TimersMixin,
		EventsMixin,
		DbMixin<Alert>({
			collection: "alerts",
			indexes: [
				{ fields: { openKey: 1 }, unique: true, sparse: true },
				{ fields: { status: 1, escalateAt: 1 } },
				{ fields: { createdAt: -1 } },
			],
			kinds: {
				rules: {},
				watches: { indexes: [{ fields: { closed: 1, alerted: 1 } }] },
				seen: { indexes: [{ fields: { at: 1 } }] },
				counters: { indexes: [{ fields: { series: 1, start: 1 } }] },
			},
		}),
	],
	settings: { rest: "/" },

	actions: {
		raise: {
			rest: "POST /alerts",
			auth: { roles: ["admin"] },
			params: ALERT_PARAMS.raise,
			async handler(this: ThisService, ctx: Ctx<C.RaiseParams>) {
				const { summary, severity, key, details } = ctx.params;
				const by = ctx.meta.user!.id;
				const raise = { rule: "manual" as const, subject: key || newId(), summary, severity, details, by };
				const result = await this.raiseAlert(ctx, raise);
				if (!result) throw conflict("Manual alerts are disabled");
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
			params: ALERT_PARAMS.list,
			async handler(this: ThisService, ctx: Ctx<C.ListAlertsParams>) {
				const { page, pageSize, status, severity, rule } = ctx.params;
				const query = { ...(status && { status }), ...(severity && { severity }), ...(rule && { rule }) };
				const result = await this.paginate(query, { page, pageSize });
				return { ...result, rows: result.rows.map((a) => this.publicAlert(a)) };
			},
		},

		rules: {
			rest: "GET /alerts/rules",
			auth: { roles: ["admin"] },
			params: {},
			async handler(this: ThisService) {
				const rules: Partial<Record<RuleName, RuleConfig>> = {};
				for (const name of R.RULE_NAMES) rules[name] = await this.ruleConfig(name);
				return rules;
			},
		},

		updateRule: {
			rest: "PUT /alerts/rules/:rule",
			auth: { roles: ["admin"] },
			params: ALERT_PARAMS.updateRule,
			async handler(this: ThisService, ctx: Ctx<C.UpdateRuleParams>) {
				const { rule, ...change } = ctx.params;
				if (!R.isRuleName(rule)) throw notFound("alert rule", rule);
				const problems = R.ruleChangeProblems(rule, change);
				if (problems.length) throw unprocessable(problems.join("; "), { problems });
				await this.rules.save(rule, change, ctx.meta.user!.id);
				return this.ruleConfig(rule);
			},
		},

		get: {
			rest: "GET /alerts/:id",
			auth: { roles: ["admin"] },
			params: ALERT_PARAMS.id,
			async handler(this: ThisService, ctx: Ctx<C.AlertIdParams>) {
				return this.publicAlert(await this.getEntityOr404(ctx.params.id, "alert"));
			},
		},

		resolve: {
			rest: "PUT /alerts/:id/resolve",
			auth: { roles: ["admin"] },
			params: ALERT_PARAMS.resolve,
			async handler(this: ThisService, ctx: Ctx<C.ResolveParams>) {
				const alert = await this.getEntityOr404(ctx.params.id, "alert");
				const resolved = await this.resolveAlert(ctx, alert, ctx.params.note, ctx.meta.user!.id);
				if (!resolved) throw conflict("This alert is already resolved");
				return this.publicAlert(resolved);
			},
		},

		replay: {
			rest: "POST /alerts/:id/replay",
			auth: { roles: ["admin"] },
			params: ALERT_PARAMS.id,
			async handler(this: ThisService, ctx: Ctx<C.AlertIdParams>) {
				const alert = await this.getEntityOr404(ctx.params.id, "alert");
				const envelope = alert.details.envelope;
				if (alert.rule !== "dead_letter" || !isEnvelope(envelope))
					throw conflict("Only dead-letter alerts hold a message to replay");
				await this.broker.sendToChannel(channelName(topicOf(envelope.type)), envelope);
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
			params: ALERT_PARAMS.now,
			handler(this: ThisService, ctx: Ctx<C.NowParams>) {
				return this.evaluateTimers(ctx.params.now || nowIso());
			},
		},

		/** Internal: escalate open alerts past their policy's delay (the timer does this too). */
		escalateDue: {
			visibility: "public",
			params: ALERT_PARAMS.now,
			handler(this: ThisService, ctx: Ctx<C.NowParams>) {
				return this.escalateDue(ctx.params.now || nowIso());
			},
		},

		/** Internal: a timed watch (support, tests), or null. */
		watch: {
			visibility: "public",
			params: ALERT_PARAMS.watch,
			handler(this: ThisService, ctx: Ctx<C.WatchParams>): Promise<Watch | null> {
				return this.watches.get(ctx.params.rule, ctx.params.subject);
			},
		},

		/** Internal: a series' window as its rule sees it, and how many buckets are stored (support, tests). */
		window: {
			visibility: "public",
			params: ALERT_PARAMS.window,
			async handler(this: ThisService, ctx: Ctx<C.WindowParams>): Promise<C.WindowReport> {
				const series = ctx.params.series;
				const { rule, stats, bucketsRead } = await this.windowOf(series, ctx.params.now || nowIso());
				const bucketsStored = await this.counters.stored(series);
				return { series, windowMinutes: rule.windowMinutes!, ...stats, bucketsRead, bucketsStored };
			},
		},
	},

	businessEvents,

	channels: {
		[channelName(DEAD_LETTER_TOPIC)]: {
			group: "alerts",
			async handler(this: ThisService, letter: unknown) {
				await this.raiseDeadLetter(letter);
			},
		},
	},

	methods: {
		/**
		 * The mixin's ledger already drops redelivered envelopes; the "seen" mark makes the rules'
		 * effects idempotent on their own (a crash between handling and the ledger write, a replay).
		 */
		async evaluateEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context | null) {
			if (!(RULE_EVENTS as readonly string[]).includes(envelope.type)) return;
			const seen = this.kind<SeenMark>("seen");
			if (await seen.findById(envelope.id)) return;
			await this.applyRules(envelope as TypedEnvelope, ctx);
			await insertOnce(seen, { _id: envelope.id, type: envelope.type, at: envelope.time });
		},

		async applyRules(this: ThisService, e: TypedEnvelope, ctx: Context | null) {
			switch (e.type) {
				case "payment.processed":
				case "payment.failed":
					await this.counters.add(e, "payment", e.type === "payment.failed");
					await this.evaluateWindow(ctx, "payment", e.time);
					break;
				case "notification.failed":
					await this.counters.add(e, "notification", true);
					await this.evaluateWindow(ctx, "notification", e.time);
					break;
				case "reconciliation.mismatch":
					await this.counters.add(e, "reconciliation", true);
					await this.evaluateWindow(ctx, "reconciliation", e.time, { lastMismatch: e.data });
					break;
				case "inventory.updated":
				case "delivery.unassigned": {
					const condition = R.eventCondition(e);
					if (condition && "raise" in condition) await this.raiseAlert(ctx, condition.raise);
					else if (condition) await this.autoResolve(ctx, condition.resolve.key, condition.resolve.note);
					break;
				}
				case "review.submitted": {
					const raise = R.lowRatingRaise(e.data, (await this.ruleConfig("low_rating")).threshold);
					if (raise) await this.raiseAlert(ctx, raise);
					break;
				}
			}
			for (const change of R.watchChanges(e)) {
				if ("open" in change) await this.watches.open(change.open);
				else if (change.close.subject) {
					await this.watches.close(change.close);
					await this.autoResolve(ctx, R.dedupKey(change.close.rule, change.close.subject), change.close.reason);
				}
			}
		},

		/** Reads the series' window (at most windowMinutes + 1 buckets), pruning the older buckets. */
		async windowOf(this: ThisService, series: Series, now: string) {
			const rule = await this.ruleConfig(R.SERIES_RULE[series]);
			return { rule, ...(await this.counters.read(series, now, rule.windowMinutes!)) };
		},

		async evaluateWindow(this: ThisService, ctx: Context | null, series: Series, now: string, extra = {}) {
			const { rule, stats } = await this.windowOf(series, now);
			const verdict = R.windowVerdict(series, stats, rule);
			const name = R.SERIES_RULE[series];
			if (verdict && "raise" in verdict)
				await this.raiseAlert(ctx, { rule: name, summary: verdict.raise, details: { ...stats, ...extra } });
			else if (verdict) await this.autoResolve(ctx, R.dedupKey(name), verdict.resolve);
		},

		/** Raises the watched conditions that have lasted past their rule's threshold. */
		async evaluateTimers(this: ThisService, now: string) {
			let raised = 0;
			for (const watch of await this.watches.pending()) {
				const rule = await this.ruleConfig(watch.rule);
				if (!rule.enabled || !R.overdue(watch.dueSince || now, now, rule.thresholdMinutes ?? 0)) continue;
				if (!(await this.watches.claim(watch))) continue;
				const summary = R.watchSummary(watch, now);
				const details = { ...watch.info, since: watch.dueSince };
				const result = await this.raiseAlert(null, { rule: watch.rule, subject: watch.subject, summary, details });
				if (result && result.created) raised++;
			}
			return { raised };
		},

		/**
		 * One open alert per dedup key: a new condition inserts it with alert.triggered (one write);
		 * the same open condition only counts another occurrence.
		 */
		async raiseAlert(this: ThisService, ctx: Context | null, raise: Raise) {
			const rule = await this.ruleConfig(raise.rule);
			if (!rule.enabled) return null;
			const now = nowIso();
			const doc: Alert = R.newAlert(newId(), raise, rule, now);
			const key = doc.key;
			try {
				const alert = await this.insertEntity(ctx, doc, [{ type: "alert.triggered", data: R.alertChange(doc) }]);
				return { alert, created: true };
			} catch (err) {
				if (!isConflict(err)) throw err;
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

		async raiseDeadLetter(this: ThisService, letter: unknown) {
			const l = (letter || {}) as { envelope?: unknown };
			if (!isEnvelope(l.envelope)) {
				this.logger.warn("Ignored a dead letter without an envelope.");
				return;
			}
			await this.raiseAlert(null, R.deadLetterRaise(l, l.envelope));
		},

		async resolveAlert(this: ThisService, ctx: Context | null, alert: Alert, note: string, by: string) {
			const now = nowIso();
			return this.compareAndSet(
				ctx,
				{ _id: alert._id, status: "open" },
				{
					$set: { status: "resolved", resolvedAt: now, resolvedBy: by, note, escalateAt: null },
					$unset: { openKey: true },
					$push: { history: { at: now, action: "resolved", level: alert.level, by, note } },
				},
				[{ type: "alert.resolved", data: R.alertChange(alert, note) }],
			);
		},

		async autoResolve(this: ThisService, ctx: Context | null, key: string, note: string) {
			const open = await this.findOneEntity({ openKey: key });
			if (open) await this.resolveAlert(ctx, open, note, "system");
		},

		/** Moves each overdue open alert up one level, telling admins again (alert.escalated, same write). */
		async escalateDue(this: ThisService, now: string) {
			const open = await this.findEntities({ query: { status: "open", escalateAt: { $lte: now } } });
			let escalated = 0;
			for (const alert of open) {
				if (!R.shouldEscalate(alert, now)) continue;
				const rule = await this.ruleConfig(alert.rule);
				const level = alert.level + 1;
				const event: PendingEvent = { type: "alert.escalated", data: R.alertChange({ ...alert, level }) };
				const updated = await this.compareAndSet(
					null,
					{ _id: alert._id, status: "open", level: alert.level },
					{
						$set: { level, levelSince: now, escalateAt: R.nextEscalationAt(level, now, rule) },
						$push: { history: { at: now, action: "escalated", level, by: "system" } },
					},
					[event],
				);
				if (updated) escalated++;
			}
			return { escalated };
		},

		ruleConfig(this: ThisService, name: RuleName) {
			return this.rules.config(name);
		},

		publicAlert(this: ThisService, alert: Alert) {
			return this.toPublic(alert, ["openKey"]);
		},

		/** The "timers" job: watches, escalations, and seen marks past the ledger's retention. */
		async runTimers(this: ThisService) {
			const now = nowIso();
			await this.evaluateTimers(now);
			await this.escalateDue(now);
			const before = new Date(Date.parse(now) - config().eventLedgerRetentionMs).toISOString();
			await this.kind<SeenMark>("seen").removeMany({ at: { $lt: before } });
		},
	},

	// TimersMixin: every ALERT_ESCALATION_CHECK_MS, never overlapping, stopped with the service.
	timers: {
		timers: {
			everyMs: () => config().alertEscalationCheckMs,
			run(this: ThisService) {
				return this.runTimers();
			},
		},
	} satisfies TimerJobs<ThisService>,

	started(this: ThisService) {
		this.counters = new WindowCounters(this.kind<WindowBucket>("counters"), this.kind<SeenMark>("seen"));
		this.rules = new RuleStore(this.kind<RuleOverride>("rules"));
		this.watches = new WatchStore(this.kind<Watch>("watches"));
	},
};

export = AlertsService;
