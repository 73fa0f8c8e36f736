/**
 * Payments' domain rules: refund amounts, the status for a refunded total, and the reconciliation's
 * decisions (what disagrees between an order and its payment, and what to repair). Pure functions.
 */
import type { PendingEvent } from "../contracts/events";
import type { Payment } from "../contracts/payments";
import type { PaymentStatus } from "./payment-status";

/** How much can still be refunded of a payment. */
export function refundableCents(payment: { capturedCents: number; refundedCents: number }): number {
	return Math.max(0, payment.capturedCents - payment.refundedCents);
}

/**
 * A payment's status for a refunded total: "refunded" when it covers what was captured,
 * "partially_refunded" when some of it is refunded, otherwise back to "captured" (a failed refund
 * undone) or unchanged.
 */
export function refundStatus(capturedCents: number, refundedCents: number, current: PaymentStatus): PaymentStatus {
	if (capturedCents > 0 && refundedCents >= capturedCents) return "refunded";
	if (refundedCents > 0) return "partially_refunded";
	return current === "refunded" || current === "partially_refunded" ? "captured" : current;
}

/**
 * The event recorded with a payment's outcome: payment.failed (with its reason), payment.processed
 * (captured, authorized, or a pending PIX with its code), or none for any other status.
 */
export function outcomeEvents(p: Payment): PendingEvent[] {
	const data = {
		paymentId: p._id,
		orderId: p.orderId,
		customerId: p.customerId,
		supplierId: p.supplierId,
		amountCents: p.amountCents,
		method: p.method,
	};
	if (p.status === "failed")
		return [{ type: "payment.failed", data: { ...data, reason: p.failureReason || "unknown" } }];
	if (p.status === "captured" || p.status === "authorized" || p.status === "pending")
		return [
			{ type: "payment.processed", data: { ...data, status: p.status, ...(p.pixCode ? { pixCode: p.pixCode } : {}) } },
		];
	return [];
}

// ---- Reconciliation: does an order's status agree with its payment? ----

export interface OrderState {
	orderId: string;
	status: string;
	totalCents: number;
	paymentMethod: string;
	updatedAt: string;
}

export interface PaymentState {
	paymentId: string;
	orderId: string;
	status: string;
	method: string;
	amountCents: number;
	capturedCents: number;
	refundedCents: number;
	updatedAt: string;
	processingSince?: string;
}

export type MismatchProblem =
	| "order_missing"
	| "order_without_payment"
	| "amount_mismatch"
	| "active_order_not_paid"
	| "cancelled_order_not_refunded"
	| "cash_not_captured"
	| "paid_order_not_confirmed"
	| "payment_stuck";

const ACTIVE_ORDER = ["confirmed", "in_transit", "delivered"];
const UNPAID = ["new", "failed", "voided"];

/** An order that has waited longer than `graceMs` in `created` without any payment being recorded. */
export function orderWithoutPayment(order: OrderState, hasPayment: boolean, now: Date, graceMs: number): boolean {
	return !hasPayment && order.status === "created" && now.getTime() - Date.parse(order.updatedAt) >= graceMs;
}

/**
 * What is wrong between an order and its payment, ignoring states younger than `graceMs` (the saga
 * may still be moving them). An empty list means they agree.
 */
export function reconciliationProblems(
	order: OrderState | null,
	payment: PaymentState,
	now: Date,
	graceMs: number,
): MismatchProblem[] {
	if (!order) return ["order_missing"];
	const settled = (iso: string) => now.getTime() - Date.parse(iso) >= graceMs;
	const problems: MismatchProblem[] = [];
	if (payment.amountCents !== order.totalCents) problems.push("amount_mismatch");
	if (ACTIVE_ORDER.includes(order.status) && UNPAID.includes(payment.status)) problems.push("active_order_not_paid");
	const stillHeld = payment.capturedCents - payment.refundedCents;
	if (order.status === "cancelled" && stillHeld > 0 && settled(payment.updatedAt))
		problems.push("cancelled_order_not_refunded");
	if (
		order.status === "delivered" &&
		payment.method === "cash" &&
		payment.status === "authorized" &&
		settled(order.updatedAt)
	)
		problems.push("cash_not_captured");
	if (order.status === "created" && ["captured", "authorized"].includes(payment.status) && settled(payment.updatedAt))
		problems.push("paid_order_not_confirmed");
	if (payment.status === "processing" && settled(payment.processingSince || payment.updatedAt))
		problems.push("payment_stuck");
	return problems;
}

/** What reconciliation does about a problem: a repair it can make safely, or only a report. */
export type RepairAction = "resolve_processing" | "refund_cancelled" | "republish_processed";

const REPAIRS: Partial<Record<MismatchProblem, RepairAction>> = {
	payment_stuck: "resolve_processing",
	cancelled_order_not_refunded: "refund_cancelled",
	paid_order_not_confirmed: "republish_processed",
};

/** The repair for a problem, or null when it is only reported (reconciliation.mismatch). */
export function repairFor(problem: MismatchProblem): RepairAction | null {
	return REPAIRS[problem] ?? null;
}

/** A provider's answer about a charge left `processing`, and what to record for it. */
export type ProcessingResolution = "record_outcome" | "charge_again";

/** Known outcome → record it; unknown (the request never reached the provider) → charge again, same key. */
export function resolveProcessing(providerStatus: string): ProcessingResolution {
	return providerStatus === "unknown" ? "charge_again" : "record_outcome";
}

// ---- PIX: a charge waiting for the customer's transfer ----

/** What became of a PIX charge created `elapsedMs` ago. */
export type PixOutcome = "paid" | "expired" | "pending";

/**
 * The simulated provider's PIX, derived from the charge's stored creation time (so the answer is the
 * same after a restart): paid `autoConfirmMs` after creation (0 = never by itself: only a
 * confirmation pays it), expired `expiryMs` after creation when not paid, pending in between.
 */
export function pixOutcome(elapsedMs: number, autoConfirmMs: number, expiryMs: number): PixOutcome {
	if (autoConfirmMs > 0 && elapsedMs >= autoConfirmMs && autoConfirmMs < expiryMs) return "paid";
	if (elapsedMs >= expiryMs) return "expired";
	return "pending";
}

/** Whether a PIX payment created at `createdAt` has passed its expiry (orders stops waiting for it then). */
export function pixExpired(createdAt: string, now: Date, expiryMs: number): boolean {
	return now.getTime() - Date.parse(createdAt) >= expiryMs;
}

/** Whether a run's repairs are many enough to alert on (threshold ≤ 0 never alerts). */
export function repairsNeedAlert(repairs: number, threshold: number): boolean {
	return threshold > 0 && repairs > threshold;
}
