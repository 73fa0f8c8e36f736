/** Stored shapes of the alerts service, and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import { RULE_NAMES, SERIES_RULE, SEVERITIES } from "../domain/alert-rules";
import type { RuleConfig, RuleName, Series, Severity, WatchedRule } from "../domain/alert-rules";
import { idParam, pageParams } from "./params";
import type { EventEnvelope } from "../domain/events";

export interface AlertHistoryEntry {
	at: string;
	action: "triggered" | "escalated" | "resolved" | "replayed";
	level?: number;
	by: string;
	note?: string;
}

/** What a dead-lettered message's alert keeps, so that an admin can replay it. */
export interface DeadLetterDetails {
	envelope: EventEnvelope;
	consumer: string;
	error: string;
	failedAt: string;
}

/** One alert: open while its condition lasts (one per `openKey`), then resolved for good. */
export interface Alert extends StoredDoc {
	rule: RuleName;
	/** The condition's deduplication key (rule, or rule:subject). */
	key: string;
	/** Same as `key` while open, removed when resolved: the unique index keeps one open alert per key. */
	openKey?: string;
	severity: Severity;
	status: "open" | "resolved";
	level: number;
	summary: string;
	details: Record<string, unknown>;
	raisedBy: string;
	occurrences: number;
	createdAt: string;
	lastSeenAt: string;
	levelSince: string;
	escalateAt: string | null;
	history: AlertHistoryEntry[];
	resolvedAt?: string;
	resolvedBy?: string;
	note?: string;
	replays?: number;
}

/** Kind "rules": an admin's changes to a rule's defaults (`_id` is the rule name). */
export interface RuleOverride extends StoredDoc {
	config: Partial<RuleConfig>;
	updatedAt: string;
	updatedBy: string;
}

/** Kind "watches": a condition that becomes an alert if it lasts (`_id` = rule:subject). */
export interface Watch extends StoredDoc {
	rule: WatchedRule;
	subject: string;
	dueSince?: string;
	info?: Record<string, unknown>;
	closed: boolean;
	alerted?: boolean;
	openedAt?: string;
	closedAt?: string;
	closeReason?: string;
}

/** Kind "seen": events (`_id` = event id) and samples (`sample:<event id>`) already applied. */
export interface SeenMark extends StoredDoc {
	type: string;
	at: string;
}

/** Kind "counters": samples of a series counted per minute (`_id` = series:start), pruned past the window. */
export interface WindowBucket extends StoredDoc {
	series: string;
	/** Start of the minute (UTC ISO). */
	start: string;
	total: number;
	failed: number;
}

export interface RaiseParams {
	summary: string;
	severity: Severity;
	key?: string;
	details?: Record<string, unknown>;
}
export interface ListAlertsParams {
	status?: "open" | "resolved";
	severity?: Severity;
	rule?: RuleName;
	page: number;
	pageSize: number;
}
export type UpdateRuleParams = { rule: string } & Partial<RuleConfig>;
export interface AlertIdParams {
	id: string;
}
export interface ResolveParams extends AlertIdParams {
	note: string;
}
export interface NowParams {
	now?: string;
}
export interface WatchParams {
	rule: WatchedRule;
	subject: string;
}
export interface WindowParams {
	series: Series;
	now?: string;
}
/** alerts.window: a series' window as the rules see it, and what the store keeps of it. */
export interface WindowReport {
	series: string;
	windowMinutes: number;
	total: number;
	failed: number;
	rate: number;
	/** Buckets the evaluation read. */
	bucketsRead: number;
	/** Buckets of the series still stored. */
	bucketsStored: number;
}

/** The actions' fastest-validator schemas. */
const nowParam = { now: { type: "string", max: 40, optional: true } } as const;
export const ALERT_PARAMS = {
	raise: {
		summary: { type: "string", min: 1, max: 500, trim: true },
		severity: { type: "enum", values: SEVERITIES, default: "warning" },
		key: { type: "string", min: 1, max: 120, optional: true, pattern: /^[\w.:-]+$/ },
		details: { type: "object", optional: true, strict: false, maxProps: 50 },
	},
	list: {
		status: { type: "enum", values: ["open", "resolved"], optional: true },
		severity: { type: "enum", values: SEVERITIES, optional: true },
		rule: { type: "enum", values: RULE_NAMES, optional: true },
		...pageParams,
	},
	updateRule: {
		rule: { type: "string", max: 64 },
		enabled: { type: "boolean", optional: true },
		severity: { type: "enum", values: SEVERITIES, optional: true },
		threshold: { type: "number", positive: true, optional: true },
		windowMinutes: { type: "number", positive: true, max: 7 * 24 * 60, optional: true },
		minSample: { type: "number", integer: true, min: 1, optional: true },
		thresholdMinutes: { type: "number", min: 0, max: 30 * 24 * 60, optional: true },
		escalationMinutes: { type: "array", items: { type: "number", positive: true }, optional: true },
	},
	id: { id: idParam },
	resolve: { id: idParam, note: { type: "string", min: 1, max: 1000, trim: true } },
	now: nowParam,
	watch: { rule: { type: "string", max: 64 }, subject: { type: "string", max: 200 } },
	window: { series: { type: "enum", values: Object.keys(SERIES_RULE) }, ...nowParam },
} as const;
