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
	"manual",
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export const MAX_LEVEL = 3;

export interface RuleConfig {
	enabled: boolean;
	severity: Severity;
	/** Failure rate (0..1) for payment_failure_rate; a count for notification_failures. */
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

/** What an event means for the timed watches (conditions that become alerts if they last). */
export type WatchChange =
	| {
			open: {
				rule: "courier_wait" | "late_delivery" | "verification_wait";
				subject: string;
				dueSince: string;
				info: Record<string, any>;
			};
	  }
	| { close: { rule: "courier_wait" | "late_delivery" | "verification_wait"; subject: string; reason: string } };

export function watchChanges(envelope: { type: string; time: string; data: Record<string, any> }): WatchChange[] {
	const d = envelope.data || {};
	switch (envelope.type) {
		case "order.confirmed": {
			const info = { orderId: d.orderId, supplierId: d.supplierId, customerId: d.customerId, promisedBy: d.promisedBy };
			const changes: WatchChange[] = [
				{ open: { rule: "courier_wait", subject: d.orderId, dueSince: d.confirmedAt || envelope.time, info } },
			];
			if (d.promisedBy)
				changes.push({ open: { rule: "late_delivery", subject: d.orderId, dueSince: d.promisedBy, info } });
			return changes;
		}
		case "courier.assigned":
			return [{ close: { rule: "courier_wait", subject: d.orderId, reason: "courier assigned" } }];
		case "order.delivered":
			return [
				{ close: { rule: "courier_wait", subject: d.orderId, reason: "delivered" } },
				{ close: { rule: "late_delivery", subject: d.orderId, reason: "delivered" } },
			];
		case "order.cancelled":
			return [
				{ close: { rule: "courier_wait", subject: d.orderId, reason: "order cancelled" } },
				{ close: { rule: "late_delivery", subject: d.orderId, reason: "order cancelled" } },
			];
		case "verification.requested":
			return [
				{
					open: {
						rule: "verification_wait",
						subject: d.userId,
						dueSince: envelope.time,
						info: { userId: d.userId, role: d.role },
					},
				},
			];
		case "verification.approved":
		case "verification.rejected":
			return [{ close: { rule: "verification_wait", subject: d.userId, reason: envelope.type.split(".")[1] } }];
		default:
			return [];
	}
}
