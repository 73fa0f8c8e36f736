/** How `this` looks inside the alerts service and its evaluation mixin. */
import type { Context, Service, ServiceBroker } from "moleculer";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { Alert } from "../../../lib/contracts/alerts";
import type { EventMap, EventName } from "../../../lib/contracts/events";
import type { Raise, RuleConfig, RuleName, Series, WindowStats } from "../../../lib/domain/alert-rules";
import type { EventEnvelope } from "../../../lib/domain/events";
import type { RuleStore, WatchStore } from "../../../lib/infra/alert-stores";
import type { WindowCounters } from "../../../lib/infra/window-counters";

/** An envelope whose `data` is typed by its `type` (switch on `type` to narrow). */
export type TypedEnvelope = { [K in EventName]: EventEnvelope<EventMap[K]> & { type: K } }[EventName];

export interface Settings {
	rest: string;
}

export interface OwnMethods {
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

export type ThisService = Service<Settings> &
	DbMethods<Alert> &
	EventsMethods &
	OwnMethods & {
		broker: ServiceBroker & { sendToChannel(channel: string, payload: unknown): Promise<void> };
		counters: WindowCounters;
		rules: RuleStore;
		watches: WatchStore;
	};
