/**
 * The payment state machine, in one place. Pure functions, no IO.
 *
 * 1. The payment's lifecycle, as the payments service drives it: which transitions payments itself
 *    makes, and with what guard.
 *
 *   new ──claim──► processing ──provider──► captured | authorized | pending | failed
 *   pending ──PIX paid──► captured         pending ──card instead──► processing
 *   pending ──PIX expired (PIX_EXPIRY_MS)──► failed
 *   authorized ──cash collected──► captured
 *   failed ──paid again (retry grace)──► processing
 *   new | authorized | pending ──order cancelled──► voided
 *   captured ⇄ partially_refunded ⇄ refunded (refunds; a refused refund undone goes back)
 *
 * 2. The payment as orders records it on the order (`OrderPaymentStatus`): the same states, with
 *    `none` for payments' `new` and no `voided` (orders sees the order cancelled). Messages arrive
 *    late or twice, so this view only moves forward: a write applies a status only if it may follow
 *    the current one (`paymentStatusMayFollow`, a compare-and-set on `paymentStatusesBefore(next)`).
 *
 *   none ──► processing ──► pending ──► captured ──► partially_refunded ──► refunded
 *     │           │            │   └──► authorized ─┘ (captured on delivery)   ▲
 *     └───────────┴────────────┴──► failed ──► (a retry: processing, authorized, captured)
 *
 *   - `processing` (a charge running at the provider) and `pending` (waiting for the customer, PIX)
 *     are *live*: an outcome is still coming.
 *   - `authorized` (cash, captured on delivery) and `captured` are *secured*: the order may be confirmed.
 *   - `failed` may be followed by a retry (PAYMENT_RETRY_GRACE_MS); a late `pending` never overwrites it
 *     (orders' payment.processed handler alone moves failed → pending, for a PIX chosen while the
 *     order's retry window is open).
 *   - `refunded` is *terminal* for orders: nothing follows it.
 */

// ── 1. The payment's lifecycle (payments) ───────────────────────────────────────────────────────

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

// ── 2. The payment as orders records it ────────────────────────────────────────────────────────

export const ORDER_PAYMENT_STATUSES = [
	"none",
	"pending",
	"processing",
	"authorized",
	"captured",
	"failed",
	"refunded",
	"partially_refunded",
] as const;
export type OrderPaymentStatus = (typeof ORDER_PAYMENT_STATUSES)[number];

const ORDER_NEXT: Record<OrderPaymentStatus, readonly OrderPaymentStatus[]> = {
	none: ["processing", "pending", "authorized", "captured", "failed"],
	processing: ["pending", "authorized", "captured", "failed"],
	pending: ["processing", "authorized", "captured", "failed"],
	failed: ["processing", "authorized", "captured"],
	authorized: ["captured"],
	captured: ["partially_refunded", "refunded"],
	// Another partial refund keeps it partially refunded.
	partially_refunded: ["partially_refunded", "refunded"],
	refunded: [],
};

/** A status orders records (payments' own `new` and `voided` are not). */
export function isPaymentStatus(value: unknown): value is OrderPaymentStatus {
	return typeof value === "string" && (ORDER_PAYMENT_STATUSES as readonly string[]).includes(value);
}

/** True when a payment in `current` may move to `next` (false for unknown statuses). */
export function paymentStatusMayFollow(current: OrderPaymentStatus, next: OrderPaymentStatus): boolean {
	return isPaymentStatus(current) && isPaymentStatus(next) && ORDER_NEXT[current].includes(next);
}

/** The statuses `next` may follow: the condition of a compare-and-set that never goes back. */
export function paymentStatusesBefore(next: OrderPaymentStatus): OrderPaymentStatus[] {
	return ORDER_PAYMENT_STATUSES.filter((s) => ORDER_NEXT[s].includes(next));
}

/** An outcome is still coming (from the provider or the customer): leave the order waiting. */
export function isLivePaymentStatus(status: OrderPaymentStatus): boolean {
	return status === "processing" || status === "pending";
}

/** The money is taken or promised (authorized cash): the order may be confirmed. */
export function isSecuredPaymentStatus(status: OrderPaymentStatus): boolean {
	return status === "authorized" || status === "captured";
}

/** Nothing can follow. */
export function isTerminalPaymentStatus(status: OrderPaymentStatus): boolean {
	return isPaymentStatus(status) && ORDER_NEXT[status].length === 0;
}
