import {
	bucketOf,
	bucketWindowStats,
	windowVerdict,
	DEFAULT_RULES,
	dedupKey,
	effectiveRule,
	nextEscalationAt,
	notificationFailuresBreached,
	overdue,
	paymentFailureBreached,
	ruleChangeProblems,
	shouldEscalate,
	watchChanges,
	windowStats,
} from "../../lib/domain/alert-rules";

const at = (minute: number) => new Date(Date.UTC(2030, 0, 1, 10, minute)).toISOString();

describe("alert rules", () => {
	it("keys open conditions by rule and subject", () => {
		expect(dedupKey("low_stock", "p1")).toBe("low_stock:p1");
		expect(dedupKey("payment_failure_rate")).toBe("payment_failure_rate");
	});

	it("measures failures in a sliding window", () => {
		const samples = [
			{ at: at(0), failed: true },
			{ at: at(10), failed: false },
			{ at: at(12), failed: true },
			{ at: at(14), failed: true },
		];
		expect(windowStats(samples, at(15), 15)).toEqual({ total: 3, failed: 2, rate: 2 / 3 });
		expect(windowStats(samples, at(30), 15)).toEqual({ total: 0, failed: 0, rate: 0 });
	});

	it("needs a minimum sample before judging a payment failure rate", () => {
		const rule = effectiveRule("payment_failure_rate", { minSample: 4 });
		expect(paymentFailureBreached({ total: 3, failed: 3, rate: 1 }, rule)).toBe(false);
		expect(paymentFailureBreached({ total: 4, failed: 2, rate: 0.5 }, rule)).toBe(true);
		expect(paymentFailureBreached({ total: 4, failed: 1, rate: 0.25 }, rule)).toBe(false);
		expect(notificationFailuresBreached({ total: 5, failed: 5, rate: 1 }, DEFAULT_RULES.notification_failures)).toBe(
			true,
		);
		expect(notificationFailuresBreached({ total: 4, failed: 4, rate: 1 }, DEFAULT_RULES.notification_failures)).toBe(
			false,
		);
	});

	it("accepts only the changes that apply to a rule", () => {
		expect(ruleChangeProblems("payment_failure_rate", { threshold: 0.3, minSample: 10 })).toEqual([]);
		expect(ruleChangeProblems("payment_failure_rate", { threshold: 3 })).toHaveLength(1);
		expect(ruleChangeProblems("low_stock", { thresholdMinutes: 5 } as any)).toEqual([
			"thresholdMinutes does not apply to low_stock",
		]);
		expect(ruleChangeProblems("courier_wait", { escalationMinutes: [1, 2, 3] })).toHaveLength(1);
		expect(effectiveRule("courier_wait", { thresholdMinutes: 3 })).toMatchObject({
			thresholdMinutes: 3,
			severity: "warning",
		});
	});

	it("says when a condition has lasted too long", () => {
		expect(overdue(at(0), at(10), 10)).toBe(false);
		expect(overdue(at(0), at(11), 10)).toBe(true);
		expect(overdue(at(0), at(1), 0)).toBe(true);
	});

	it("escalates level 1 → 2 → 3 after the policy's delays, then stops", () => {
		const rule = effectiveRule("manual", { escalationMinutes: [5, 20] });
		expect(nextEscalationAt(1, at(0), rule)).toBe(at(5));
		expect(nextEscalationAt(2, at(5), rule)).toBe(at(25));
		expect(nextEscalationAt(3, at(25), rule)).toBeNull();
		expect(shouldEscalate({ status: "open", level: 1, escalateAt: at(5) }, at(5))).toBe(true);
		expect(shouldEscalate({ status: "open", level: 1, escalateAt: at(5) }, at(4))).toBe(false);
		expect(shouldEscalate({ status: "resolved", level: 1, escalateAt: at(5) }, at(9))).toBe(false);
		expect(shouldEscalate({ status: "open", level: 3, escalateAt: at(5) }, at(9))).toBe(false);
	});

	it("opens and closes timed watches from events", () => {
		const confirmed = watchChanges({
			type: "order.confirmed",
			time: at(0),
			data: { orderId: "o1", confirmedAt: at(0), promisedBy: at(45) },
		});
		expect(confirmed).toEqual([
			expect.objectContaining({
				open: expect.objectContaining({ rule: "courier_wait", subject: "o1", dueSince: at(0) }),
			}),
			expect.objectContaining({
				open: expect.objectContaining({ rule: "late_delivery", subject: "o1", dueSince: at(45) }),
			}),
		]);
		expect(watchChanges({ type: "courier.assigned", time: at(1), data: { orderId: "o1" } })).toEqual([
			{ close: { rule: "courier_wait", subject: "o1", reason: "courier assigned" } },
		]);
		expect(watchChanges({ type: "order.delivered", time: at(1), data: { orderId: "o1" } })).toHaveLength(2);
		expect(watchChanges({ type: "verification.rejected", time: at(1), data: { userId: "u" } })).toEqual([
			{ close: { rule: "verification_wait", subject: "u", reason: "rejected" } },
		]);
		expect(watchChanges({ type: "product.created", time: at(1), data: {} })).toEqual([]);
	});
});

describe("bounded windows and reconciliation", () => {
	const at = (minute: number) => new Date(Date.UTC(2030, 0, 1, 10, minute)).toISOString();

	it("counts minute buckets of the window only", () => {
		expect(bucketOf("2030-01-01T10:07:42.000Z")).toBe(at(7));
		const buckets = [
			{ start: at(0), total: 5, failed: 5 },
			{ start: at(10), total: 2, failed: 1 },
			{ start: at(20), total: 1, failed: 0 },
		];
		expect(bucketWindowStats(buckets, at(20), 15)).toEqual({ total: 3, failed: 1, rate: 1 / 3 });
	});

	it("judges each series by its rule", () => {
		const stats = { total: 3, failed: 3, rate: 1 };
		expect(windowVerdict("reconciliation", stats, DEFAULT_RULES.reconciliation_mismatch)).toEqual({
			raise: "3 payment reconciliation mismatches in the last 60 min",
		});
		expect(windowVerdict("reconciliation", { ...stats, failed: 2 }, DEFAULT_RULES.reconciliation_mismatch)).toBeNull();
		expect(windowVerdict("payment", { total: 4, failed: 1, rate: 0.25 }, DEFAULT_RULES.payment_failure_rate)).toEqual({
			resolve: "failure rate back to 25%",
		});
	});
});
