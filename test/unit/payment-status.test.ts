import {
	isLivePaymentStatus,
	isSecuredPaymentStatus,
	isTerminalPaymentStatus,
	ORDER_PAYMENT_STATUSES,
	paymentStatusesBefore,
	paymentStatusMayFollow,
} from "../../lib/domain/payment-status";
import { paymentRepairFor } from "../../lib/domain/orders";
import { outcomeEvents } from "../../lib/domain/payments";

describe("payment state machine", () => {
	it("moves forward, never back", () => {
		expect(paymentStatusMayFollow("none", "captured")).toBe(true);
		expect(paymentStatusMayFollow("pending", "failed")).toBe(true);
		expect(paymentStatusMayFollow("captured", "pending")).toBe(false);
		expect(paymentStatusMayFollow("failed", "pending")).toBe(false);
		expect(paymentStatusMayFollow("failed", "captured")).toBe(true);
		expect(paymentStatusMayFollow("captured", "partially_refunded")).toBe(true);
		expect(paymentStatusMayFollow("partially_refunded", "partially_refunded")).toBe(true);
		expect(paymentStatusMayFollow("refunded", "captured")).toBe(false);
		expect(paymentStatusMayFollow("voided" as never, "captured")).toBe(false);
	});

	it("lists the states a status may follow (a compare-and-set condition)", () => {
		expect(paymentStatusesBefore("pending").sort()).toEqual(["none", "processing"]);
		expect(paymentStatusesBefore("refunded").sort()).toEqual(["captured", "partially_refunded"]);
		for (const next of ORDER_PAYMENT_STATUSES)
			for (const current of paymentStatusesBefore(next)) expect(paymentStatusMayFollow(current, next)).toBe(true);
	});

	it("tells live, secured and terminal states apart", () => {
		expect(ORDER_PAYMENT_STATUSES.filter(isLivePaymentStatus)).toEqual(["pending", "processing"]);
		expect(ORDER_PAYMENT_STATUSES.filter(isSecuredPaymentStatus)).toEqual(["authorized", "captured"]);
		expect(ORDER_PAYMENT_STATUSES.filter(isTerminalPaymentStatus)).toEqual(["refunded"]);
	});
});

describe("repairing an order still waiting for its payment", () => {
	it("confirms when paid, waits while an outcome is coming, cancels otherwise", () => {
		expect(paymentRepairFor({ status: "captured" }, false)).toBe("confirm");
		expect(paymentRepairFor({ status: "authorized" }, false)).toBe("confirm");
		expect(paymentRepairFor({ status: "processing" }, false)).toBe("wait");
		expect(paymentRepairFor({ status: "pending" }, false)).toBe("wait");
		expect(paymentRepairFor(null, false)).toBe("cancel");
		expect(paymentRepairFor({ status: "new" }, false)).toBe("cancel");
		expect(paymentRepairFor({ status: "failed" }, false)).toBe("cancel");
		expect(paymentRepairFor({ status: "failed" }, true)).toBe("wait");
		expect(paymentRepairFor({ status: "something_else" }, false)).toBe("wait");
	});
});

describe("the event recorded with a payment's outcome", () => {
	const ids = { _id: "p1", orderId: "o1", customerId: "c1", supplierId: "s1" };
	const amounts = { amountCents: 12000, capturedCents: 0, refundedCents: 0 };
	const base = { ...ids, ...amounts, attempts: 1, transactions: [], createdAt: "t", updatedAt: "t" };
	const data = { paymentId: "p1", orderId: "o1", customerId: "c1", supplierId: "s1", amountCents: 12000 };

	it("failed → payment.failed with its reason (unknown when none)", () => {
		expect(outcomeEvents({ ...base, method: "card", status: "failed", failureReason: "declined" })).toEqual([
			{ type: "payment.failed", data: { ...data, method: "card", reason: "declined" } },
		]);
		expect(outcomeEvents({ ...base, method: "card", status: "failed" })[0].data).toMatchObject({ reason: "unknown" });
	});

	it("captured, authorized, pending → payment.processed with the status (and a PIX's code)", () => {
		expect(outcomeEvents({ ...base, method: "cash", status: "authorized" })).toEqual([
			{ type: "payment.processed", data: { ...data, method: "cash", status: "authorized" } },
		]);
		expect(outcomeEvents({ ...base, method: "pix", status: "pending", pixCode: "000201" })).toEqual([
			{ type: "payment.processed", data: { ...data, method: "pix", status: "pending", pixCode: "000201" } },
		]);
	});

	it("any other status → no event", () => {
		for (const status of ["new", "processing", "refunded", "voided"] as const)
			expect(outcomeEvents({ ...base, method: "card", status })).toEqual([]);
	});
});
