/**
 * The alerts service's rules, applied (a mixin of the service): to each event the rules use (its
 * `businessEvents`: failure counters per minute and their windows, conditions raised or resolved at
 * once, timed watches opened and closed), to the clock (watches that lasted past their threshold),
 * and to dead-lettered messages. Raising and resolving alerts stay in the service; the rules
 * themselves are pure functions in lib/domain/alert-rules.ts.
 */
import { Context, ServiceSchema } from "moleculer";
import type { SeenMark } from "../../../lib/contracts/alerts";
import type { EventName } from "../../../lib/contracts/events";
import * as R from "../../../lib/domain/alert-rules";
import type { Series } from "../../../lib/domain/alert-rules";
import { EventEnvelope, isEnvelope } from "../../../lib/domain/events";
import { insertOnce } from "../../../lib/infra/window-counters";
import type { BusinessEventHandlers } from "../../../mixins/events.mixin";
import type { OwnMethods, Settings, ThisService, TypedEnvelope } from "./types";

/** Applies the rules to an event (registered for each type the rules use, nothing else). */
async function onEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
	await this.evaluateEvent(envelope, ctx);
}
export const RULE_EVENTS = [
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

type EvaluationMethods = Pick<
	OwnMethods,
	"evaluateEvent" | "applyRules" | "windowOf" | "evaluateWindow" | "evaluateTimers" | "raiseDeadLetter"
>;

const schema: Partial<ServiceSchema<Settings, ThisService>> & { businessEvents: BusinessEventHandlers<ThisService> } = {
	businessEvents,

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

		async raiseDeadLetter(this: ThisService, letter: unknown) {
			const l = (letter || {}) as { envelope?: unknown };
			if (!isEnvelope(l.envelope)) {
				this.logger.warn("Ignored a dead letter without an envelope.");
				return;
			}
			await this.raiseAlert(null, R.deadLetterRaise(l, l.envelope));
		},
	} satisfies EvaluationMethods & ThisType<ThisService>,
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const AlertEvaluationMixin = schema as unknown as Partial<ServiceSchema>;
