/**
 * Alerts: rules (lib/domain/alert-rules.ts) evaluated over the event stream and on a timer, one
 * open alert per condition (a unique `openKey` while open), escalation 1 → 2 → 3 while unresolved,
 * resolution by an admin (or automatically when the condition ends), and dead-lettered messages
 * that an admin can replay.
 *
 * The rules applied to events, the clock and dead letters: ./parts/alerts/evaluation.mixin.ts.
 *
 * Records: alerts (the main collection) and the kinds rules (overrides), watches (conditions that
 * become alerts if they last), seen (events already applied) and counters (failures per minute,
 * kept only for the rule's window, so every evaluation costs O(window), not O(history)).
 */
import { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { channelName, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { PendingEvent } from "../lib/contracts/events";
import { ALERT_PARAMS } from "../lib/contracts/alerts";
import type * as C from "../lib/contracts/alerts";
import type { Alert, RuleOverride, SeenMark, Watch, WindowBucket } from "../lib/contracts/alerts";
import { DEAD_LETTER_TOPIC, isEnvelope, topicOf } from "../lib/domain/events";
import { conflict, isConflict, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { config } from "../lib/infra/config";
import { WindowCounters } from "../lib/infra/window-counters";
import { RuleStore, WatchStore } from "../lib/infra/alert-stores";
import * as R from "../lib/domain/alert-rules";
import type { Raise, RuleConfig, RuleName } from "../lib/domain/alert-rules";
import { AlertEvaluationMixin } from "./parts/alerts/evaluation.mixin";
import type { Settings, ThisService } from "./parts/alerts/types";

const AlertsService: ServiceSchema<Settings, ThisService> = {
	name: "alerts",
	// EventsMixin first: Moleculer starts mixins last-to-first, and the events mixin finds its outbox
	// and ledger in DbMixin's store only when that has started (otherwise it falls back to memory).
	mixins: [
		TimersMixin,
		AlertEvaluationMixin,
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
