/**
 * The payment state machine: which payment status may follow which. Shared by orders (which keeps
 * the latest payment status on the order) and payments (which owns the payment).
 *
 *   none ──► processing ──► pending ──► captured ──► partially_refunded ──► refunded
 *     │           │            │   └──► authorized ─┘ (captured on delivery)   ▲
 *     └───────────┴────────────┴──► failed ──► (a retry: processing, authorized, captured)
 *
 * - `none`: no charge attempted yet (payments' `new`).
 * - `processing`: a charge is running at the provider; `pending`: waiting for the customer (PIX).
 *   Both are *live*: an outcome is still coming, from the provider or the customer.
 * - `authorized` (cash, captured on delivery) and `captured` are *secured*: the order may be confirmed.
 * - `failed` may be followed by a retry (PAYMENT_RETRY_GRACE_MS); a late `pending` never overwrites it.
 * - `refunded` is *terminal*: nothing follows it.
 *
 * Messages can arrive late or twice: a write applies a status only if it may follow the current one
 * (`paymentStatusMayFollow`), e.g. with a compare-and-set on `paymentStatusesBefore(next)`.
 */
export const PAYMENT_STATUSES = [
	"none",
	"pending",
	"processing",
	"authorized",
	"captured",
	"failed",
	"refunded",
	"partially_refunded",
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
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

export function isPaymentStatus(value: unknown): value is PaymentStatus {
	return typeof value === "string" && (PAYMENT_STATUSES as readonly string[]).includes(value);
}

/** True when a payment in `current` may move to `next` (false for unknown statuses). */
export function paymentStatusMayFollow(current: PaymentStatus, next: PaymentStatus): boolean {
	return isPaymentStatus(current) && isPaymentStatus(next) && NEXT[current].includes(next);
}

/** The statuses `next` may follow: the condition of a compare-and-set that never goes back. */
export function paymentStatusesBefore(next: PaymentStatus): PaymentStatus[] {
	return PAYMENT_STATUSES.filter((s) => NEXT[s].includes(next));
}

/** An outcome is still coming (from the provider or the customer): leave the order waiting. */
export function isLivePaymentStatus(status: PaymentStatus): boolean {
	return status === "processing" || status === "pending";
}

/** The money is taken or promised (authorized cash): the order may be confirmed. */
export function isSecuredPaymentStatus(status: PaymentStatus): boolean {
	return status === "authorized" || status === "captured";
}

/** Nothing can follow. */
export function isTerminalPaymentStatus(status: PaymentStatus): boolean {
	return isPaymentStatus(status) && NEXT[status].length === 0;
}
