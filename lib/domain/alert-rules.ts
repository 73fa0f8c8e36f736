/**
 * Business alert rules: their defaults and tunable thresholds, what each event means for them,
 * deduplication keys for open conditions, and the escalation policy (level 1 → 2 → 3).
 */

export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RULE_NAMES = [
	"payment_failure_rate",
	"courier_wait",
	"late_delivery",
	"low_stock",
	"notification_failures",
	"verification_wait",
	"dead_letter",
	"reconciliation_mismatch",
	"low_rating",
	"manual",
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export const MAX_LEVEL = 3;

export interface RuleConfig {
	enabled: boolean;
	severity: Severity;
	/** Failure rate (0..1) for payment_failure_rate; a count for notification_failures and reconciliation_mismatch. */
	threshold?: number;
	windowMinutes?: number;
	minSample?: number;
	/** How long a condition may last before it is an alert (courier_wait, late_delivery grace, verification_wait). */
	thresholdMinutes?: number;
	/** Minutes unresolved before escalating to level 2, then to level 3. */
	escalationMinutes: number[];
}

export const DEFAULT_RULES: Record<RuleName, RuleConfig> = {
	payment_failure_rate: {
		enabled: true,
		severity: "critical",
		threshold: 0.5,
		windowMinutes: 15,
		minSample: 4,
		escalationMinutes: [15, 60],
	},
	courier_wait: { enabled: true, severity: "warning", thresholdMinutes: 10, escalationMinutes: [15, 45] },
	late_delivery: { enabled: true, severity: "warning", thresholdMinutes: 0, escalationMinutes: [30, 90] },
	low_stock: { enabled: true, severity: "warning", escalationMinutes: [240, 1440] },
	notification_failures: {
		enabled: true,
		severity: "warning",
		threshold: 5,
		windowMinutes: 15,
		escalationMinutes: [60, 240],
	},
	verification_wait: { enabled: true, severity: "info", thresholdMinutes: 48 * 60, escalationMinutes: [1440, 2880] },
	dead_letter: { enabled: true, severity: "critical", escalationMinutes: [30, 120] },
	/** Payments and orders that disagree (payments' reconciliation): a count in the window. */
	reconciliation_mismatch: {
		enabled: true,
		severity: "critical",
		threshold: 3,
		windowMinutes: 60,
		escalationMinutes: [60, 240],
	},
	/** A customer rated a supplier or courier at or below `threshold` (1–5) after delivery. */
	low_rating: { enabled: true, severity: "warning", threshold: 2, escalationMinutes: [1440, 4320] },
	manual: { enabled: true, severity: "warning", escalationMinutes: [60, 240] },
};

/** The fields an admin may change on each rule (besides enabled, severity, escalationMinutes). */
const TUNABLES: Record<RuleName, (keyof RuleConfig)[]> = {
	payment_failure_rate: ["threshold", "windowMinutes", "minSample"],
	courier_wait: ["thresholdMinutes"],
	late_delivery: ["thresholdMinutes"],
	low_stock: [],
	notification_failures: ["threshold", "windowMinutes"],
	verification_wait: ["thresholdMinutes"],
	dead_letter: [],
	reconciliation_mismatch: ["threshold", "windowMinutes"],
	low_rating: ["threshold"],
	manual: [],
};
const COMMON: (keyof RuleConfig)[] = ["enabled", "severity", "escalationMinutes"];

export function isRuleName(name: string): name is RuleName {
	return (RULE_NAMES as readonly string[]).includes(name);
}

/** Problems with a change to a rule (empty when it is acceptable). */
export function ruleChangeProblems(rule: RuleName, change: Partial<RuleConfig>): string[] {
	const allowed = [...COMMON, ...TUNABLES[rule]];
	const problems = Object.keys(change)
		.filter((key) => !allowed.includes(key as keyof RuleConfig))
		.map((key) => `${key} does not apply to ${rule}`);
	if (
		rule === "payment_failure_rate" &&
		change.threshold !== undefined &&
		!(change.threshold > 0 && change.threshold <= 1)
	)
		problems.push("threshold is a failure rate between 0 (exclusive) and 1");
	if (change.escalationMinutes && change.escalationMinutes.length !== MAX_LEVEL - 1)
		problems.push(`escalationMinutes needs ${MAX_LEVEL - 1} delays (to level 2, then to level 3)`);
	return problems;
}

export function effectiveRule(rule: RuleName, override: Partial<RuleConfig> | null | undefined): RuleConfig {
	return { ...DEFAULT_RULES[rule], ...(override || {}) };
}

/** The deduplication key of an open condition: one open alert per key. */
export function dedupKey(rule: RuleName, subject?: string | null): string {
	return subject ? `${rule}:${subject}` : rule;
}

export interface Sample {
	at: string;
	failed: boolean;
}

export interface WindowStats {
	total: number;
	failed: number;
	rate: number;
}

/** Failures among the samples in the window that ends at `now`. */
export function windowStats(samples: Sample[], now: string, windowMinutes: number): WindowStats {
	const end = Date.parse(now);
	const start = end - windowMinutes * 60_000;
	const inWindow = samples.filter((s) => {
		const t = Date.parse(s.at);
		return t > start && t <= end;
	});
	const failed = inWindow.filter((s) => s.failed).length;
	return { total: inWindow.length, failed, rate: inWindow.length ? failed / inWindow.length : 0 };
}

export function paymentFailureBreached(stats: WindowStats, rule: RuleConfig): boolean {
	return stats.total >= (rule.minSample ?? 1) && stats.rate >= (rule.threshold ?? 1);
}

export function notificationFailuresBreached(stats: WindowStats, rule: RuleConfig): boolean {
	return stats.failed >= (rule.threshold ?? Infinity);
}

/** Mismatches are counted as failed samples: as many as the threshold in the window is an alert. */
export const reconciliationMismatchBreached = notificationFailuresBreached;

/**
 * Bounded windows: samples are counted per minute (a bucket per series and minute), so evaluating
 * a window reads at most windowMinutes + 1 buckets whatever the history, and buckets older than the
 * window are pruned. The window is rounded out to whole minutes (it may count up to one minute more).
 */
export const BUCKET_MS = 60_000;

export interface CountBucket {
	start: string;
	total: number;
	failed: number;
}

/** Start (UTC ISO) of the minute bucket that counts a sample taken at `at`. */
export function bucketOf(at: string | number): string {
	const ms = typeof at === "number" ? at : Date.parse(at);
	return new Date(Math.floor(ms / BUCKET_MS) * BUCKET_MS).toISOString();
}

/** The buckets [first, last] that make up the window ending at `now` (first = oldest kept). */
export function windowBuckets(now: string, windowMinutes: number): { first: string; last: string } {
	const end = Date.parse(now);
	return { first: bucketOf(end - windowMinutes * 60_000), last: bucketOf(end) };
}

/** Failures in the buckets of the window ending at `now` (buckets outside it are ignored). */
export function bucketWindowStats(buckets: CountBucket[], now: string, windowMinutes: number): WindowStats {
	const { first, last } = windowBuckets(now, windowMinutes);
	let total = 0;
	let failed = 0;
	for (const b of buckets) {
		if (b.start < first || b.start > last) continue;
		total += b.total;
		failed += b.failed;
	}
	return { total, failed, rate: total ? failed / total : 0 };
}

/** True when `since` + thresholdMinutes is before `now`. */
export function overdue(since: string, now: string, thresholdMinutes: number): boolean {
	return Date.parse(now) - Date.parse(since) > thresholdMinutes * 60_000;
}

/** When an alert now at `level` (since `levelSince`) escalates next, or null at the top level. */
export function nextEscalationAt(level: number, levelSince: string, rule: RuleConfig): string | null {
	if (level >= MAX_LEVEL) return null;
	const minutes = rule.escalationMinutes[level - 1];
	if (minutes === undefined) return null;
	return new Date(Date.parse(levelSince) + minutes * 60_000).toISOString();
}

export function shouldEscalate(alert: { status: string; level: number; escalateAt?: string | null }, now: string) {
	return alert.status === "open" && alert.level < MAX_LEVEL && !!alert.escalateAt && alert.escalateAt <= now;
}

/** The rules whose conditions are watched over time. */
export type WatchedRule = "courier_wait" | "late_delivery" | "verification_wait";

export interface WatchOpen {
	rule: WatchedRule;
	subject: string;
	dueSince: string;
	info: Record<string, unknown>;
}
export interface WatchClose {
	rule: WatchedRule;
	subject: string;
	reason: string;
}

/** What an event means for the timed watches (conditions that become alerts if they last). */
export type WatchChange = { open: WatchOpen } | { close: WatchClose };

/** The event types that open or close watches. */
export const WATCHED_EVENTS = [
	"order.confirmed",
	"courier.assigned",
	"order.delivered",
	"order.cancelled",
	"verification.requested",
	"verification.approved",
	"verification.rejected",
] as const;

const text = (value: unknown): string => (typeof value === "string" ? value : "");

export function watchChanges(envelope: { type: string; time: string; data: object }): WatchChange[] {
	const d = (envelope.data || {}) as Record<string, unknown>;
	const orderId = text(d.orderId);
	switch (envelope.type) {
		case "order.confirmed": {
			const info = { orderId: d.orderId, supplierId: d.supplierId, customerId: d.customerId, promisedBy: d.promisedBy };
			const changes: WatchChange[] = [
				{ open: { rule: "courier_wait", subject: orderId, dueSince: text(d.confirmedAt) || envelope.time, info } },
			];
			if (text(d.promisedBy))
				changes.push({ open: { rule: "late_delivery", subject: orderId, dueSince: text(d.promisedBy), info } });
			return changes;
		}
		case "courier.assigned":
			return [{ close: { rule: "courier_wait", subject: orderId, reason: "courier assigned" } }];
		case "order.delivered":
			return [
				{ close: { rule: "courier_wait", subject: orderId, reason: "delivered" } },
				{ close: { rule: "late_delivery", subject: orderId, reason: "delivered" } },
			];
		case "order.cancelled":
			return [
				{ close: { rule: "courier_wait", subject: orderId, reason: "order cancelled" } },
				{ close: { rule: "late_delivery", subject: orderId, reason: "order cancelled" } },
			];
		case "verification.requested":
			return [
				{
					open: {
						rule: "verification_wait",
						subject: text(d.userId),
						dueSince: envelope.time,
						info: { userId: d.userId, role: d.role },
					},
				},
			];
		case "verification.approved":
		case "verification.rejected":
			return [{ close: { rule: "verification_wait", subject: text(d.userId), reason: envelope.type.split(".")[1] } }];
		default:
			return [];
	}
}

/** The summary of a watched condition that lasted too long. */
export function watchSummary(watch: { rule: WatchedRule; subject: string; dueSince?: string }, now: string): string {
	const minutes = Math.round((Date.parse(now) - Date.parse(watch.dueSince || now)) / 60_000);
	if (watch.rule === "courier_wait") return `Order ${watch.subject} has waited ${minutes} min for a courier`;
	if (watch.rule === "late_delivery") return `Order ${watch.subject} is ${minutes} min past its promised delivery time`;
	return `Verification of user ${watch.subject} has waited ${minutes} min for review`;
}

/** The payload of alert.triggered / alert.escalated / alert.resolved for an alert. */
export function alertChange(
	alert: { _id: string; rule: string; severity: string; key: string; level: number; summary: string },
	note?: string,
) {
	return {
		alertId: alert._id,
		rule: alert.rule,
		severity: alert.severity,
		key: alert.key,
		level: alert.level,
		summary: alert.summary,
		...(note !== undefined ? { note } : {}),
	};
}

/** The windowed series of samples, each judged by its rule. */
export type Series = "payment" | "notification" | "reconciliation";
export const SERIES_RULE: Record<Series, RuleName> = {
	payment: "payment_failure_rate",
	notification: "notification_failures",
	reconciliation: "reconciliation_mismatch",
};

/** What a series' window means: raise its alert, resolve it (with a note), or nothing. */
export type WindowVerdict = { raise: string } | { resolve: string } | null;

export function windowVerdict(series: Series, stats: WindowStats, rule: RuleConfig): WindowVerdict {
	const minutes = rule.windowMinutes;
	if (series === "payment") {
		const rate = Math.round(stats.rate * 100);
		if (paymentFailureBreached(stats, rule))
			return { raise: `${stats.failed} of ${stats.total} payments failed in the last ${minutes} min (${rate}%)` };
		return stats.total >= (rule.minSample ?? 1) ? { resolve: `failure rate back to ${rate}%` } : null;
	}
	if (series === "notification")
		return notificationFailuresBreached(stats, rule)
			? { raise: `${stats.failed} notifications failed in the last ${minutes} min` }
			: null;
	return reconciliationMismatchBreached(stats, rule)
		? { raise: `${stats.failed} payment reconciliation mismatches in the last ${minutes} min` }
		: null;
}

/** A condition to raise: the rule, its subject (dedup), what to tell admins. */
export interface Raise {
	rule: RuleName;
	subject?: string | null;
	summary: string;
	details?: Record<string, unknown>;
	severity?: Severity;
	by?: string;
}

/** A new open alert (level 1) for a raised condition. */
export function newAlert(id: string, raise: Raise, rule: RuleConfig, now: string) {
	const key = dedupKey(raise.rule, raise.subject);
	const by = raise.by || "system";
	return {
		_id: id,
		rule: raise.rule,
		key,
		openKey: key,
		severity: raise.severity || rule.severity,
		status: "open" as const,
		level: 1,
		summary: raise.summary,
		details: raise.details || {},
		raisedBy: by,
		occurrences: 1,
		createdAt: now,
		lastSeenAt: now,
		levelSince: now,
		escalateAt: nextEscalationAt(1, now, rule),
		history: [{ at: now, action: "triggered" as const, level: 1, by }],
	};
}

/** What stock and dispatch events mean for alerts: a condition to raise, one to resolve, or none. */
export function eventCondition(envelope: {
	type: string;
	data: object;
}): { raise: Raise } | { resolve: { key: string; note: string } } | null {
	const d = (envelope.data || {}) as Record<string, unknown>;
	if (envelope.type === "inventory.updated") {
		const productId = text(d.productId);
		if (!productId) return null;
		if (!d.lowStock)
			return { resolve: { key: dedupKey("low_stock", productId), note: "stock is above its threshold again" } };
		const summary = `Low stock: product ${productId} has ${d.stock} available (threshold ${d.lowStockThreshold})`;
		const details = { productId, supplierId: d.supplierId, stock: d.stock, reserved: d.reserved };
		return { raise: { rule: "low_stock", subject: productId, summary, details } };
	}
	if (envelope.type === "delivery.unassigned") {
		const orderId = text(d.orderId);
		const waited = typeof d.waitedSeconds === "number" ? d.waitedSeconds : 0;
		const summary = `Order ${orderId} has waited ${Math.round(waited / 60)} min for a courier`;
		const details = { orderId, supplierId: d.supplierId, waitedSeconds: d.waitedSeconds };
		return { raise: { rule: "courier_wait", subject: orderId, summary, details } };
	}
	return null;
}

/** The alert for a review whose lowest rating is at or below `threshold` (null: not low). One per order. */
export function lowRatingRaise(
	d: {
		orderId: string;
		supplierId: string;
		courierId: string | null;
		supplierRating: number;
		courierRating: number | null;
	},
	threshold = DEFAULT_RULES.low_rating.threshold ?? 2,
): Raise | null {
	const low = [
		d.supplierRating <= threshold ? `supplier ${d.supplierId} ${d.supplierRating}/5` : null,
		d.courierRating !== null && d.courierRating <= threshold ? `courier ${d.courierId} ${d.courierRating}/5` : null,
	].filter((x): x is string => x !== null);
	if (!low.length) return null;
	const details = {
		orderId: d.orderId,
		supplierId: d.supplierId,
		courierId: d.courierId,
		supplierRating: d.supplierRating,
		courierRating: d.courierRating,
	};
	return {
		rule: "low_rating",
		subject: d.orderId,
		summary: `Low rating on order ${d.orderId}: ${low.join(", ")}`,
		details,
	};
}

/** The alert of a dead-lettered message, or null when the letter holds no envelope. */
export function deadLetterRaise(
	letter: { envelope?: unknown; consumer?: unknown; error?: unknown; failedAt?: unknown },
	envelope: { id: string; type: string },
): Raise {
	const consumer = String(letter.consumer);
	return {
		rule: "dead_letter",
		subject: `${envelope.id}:${consumer}`,
		summary: `${consumer} could not handle ${envelope.type}: ${String(letter.error).slice(0, 200)}`,
		details: { envelope, consumer, error: letter.error, failedAt: letter.failedAt },
	};
}
