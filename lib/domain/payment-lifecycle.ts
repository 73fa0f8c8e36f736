/**
 * The payment state machine as the payments service drives it: which transitions payments itself
 * makes, and with what guard. Pure functions, no IO.
 *
 *   new ──claim──► processing ──provider──► captured | authorized | pending | failed
 *   pending ──PIX paid──► captured         pending ──card instead──► processing
 *   pending ──PIX expired (PIX_EXPIRY_MS)──► failed
 *   authorized ──cash collected──► captured
 *   failed ──paid again (retry grace)──► processing
 *   new | authorized | pending ──order cancelled──► voided
 *   captured ⇄ partially_refunded ⇄ refunded (refunds; a refused refund undone goes back)
 *
 * Relation to lib/domain/payment-status.ts (orders' view, branch svc-orders): orders' `none` is
 * payments' `new`; `voided` exists only here (orders sees the order cancelled). The other states
 * are the same names, and every transition below is one that `paymentStatusMayFollow` should allow.
 */
export const PAYMENT_STATUSES = [
	"new",
	"processing",
	"pending",
	"authorized",
	"captured",
	"partially_refunded",
	"refunded",
	"failed",
	"voided",
] as const;

export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** The transitions payments makes: from → the states it may move to. */
const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
	new: ["processing", "voided"],
	processing: ["captured", "authorized", "pending", "failed"],
	pending: ["processing", "captured", "voided", "failed"],
	authorized: ["captured", "voided"],
	captured: ["partially_refunded", "refunded"],
	partially_refunded: ["partially_refunded", "refunded", "captured"],
	refunded: ["partially_refunded", "captured"],
	failed: ["processing"],
	voided: [],
};

export function paymentMayMove(from: PaymentStatus, to: PaymentStatus): boolean {
	return NEXT[from].includes(to);
}

/** Every state from which `to` may be reached (the guard of a compare-and-set). */
export function statusesBefore(to: PaymentStatus): PaymentStatus[] {
	return PAYMENT_STATUSES.filter((from) => paymentMayMove(from, to));
}

/** States holding captured money that can be refunded. */
export const REFUNDABLE: readonly PaymentStatus[] = ["captured", "partially_refunded"];

/** States an order's cancellation voids (nothing captured: an authorization, a pending PIX, nothing yet). */
export const VOIDABLE: readonly PaymentStatus[] = ["new", "authorized", "pending"];

/** The outcomes that tell orders the payment went through (payment.processed). */
export const PROCESSED: readonly PaymentStatus[] = ["captured", "authorized", "pending"];

/** The payment's state for a provider's answer to a charge. */
export function statusAfterCharge(result: "captured" | "authorized" | "pending" | "declined"): PaymentStatus {
	return result === "declined" ? "failed" : result;
}

/**
 * From which states a customer may (re)start a payment with `method`: a pending PIX paid by card
 * instead, a payment not charged yet, or a failed one while orders keeps the order open for a
 * retry (retryGraceMs > 0). A decline otherwise cancels the order: nothing is left to retry.
 */
export function retryableFrom(status: PaymentStatus, method: string, retryGraceMs: number): PaymentStatus[] {
	if (status === "pending" && method === "card") return ["pending"];
	if (status === "new") return ["new"];
	if (status === "failed" && retryGraceMs > 0) return ["failed"];
	return [];
}

/**
 * The idempotency key of a payment's charge: `charge:<paymentId>` for the first attempt, with the
 * attempt number after it for a later one (a customer paying again is a new charge; a retry of the
 * same attempt after a crash reuses its key and never charges twice).
 */
export function chargeKey(paymentId: string, attempt: number): string {
	return attempt <= 1 ? `charge:${paymentId}` : `charge:${paymentId}:${attempt}`;
}

export function refundKey(refundId: string): string {
	return `refund:${refundId}`;
}

/** The automatic refund of a cancelled order has a fixed id: retried after a crash, it refunds once. */
export function cancellationRefundId(paymentId: string): string {
	return `${paymentId}-cancel`;
}
