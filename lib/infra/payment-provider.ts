/**
 * Payment providers. The payments service talks to a `PaymentProvider`; a real gateway
 * (Stripe, Pagar.me, Mercado Pago…) is plugged in by implementing this interface.
 *
 * `SimulatedProvider` is built in and deterministic, keyed by the payment token (test card
 * numbers play the part of tokens; a real integration gets an opaque token from the client-side
 * SDK, so no card number ever reaches our services or events):
 *
 *   card 4242424242424242  → captured
 *   card 4000000000000002  → declined (card_declined)
 *   card 4000000000009995  → declined (insufficient_funds)
 *   card 4000000000009999  → never answers: the call times out (the payment fails with reason "timeout")
 *   any other card token   → declined (unknown_test_card)
 *   pix                    → pending with a copy-paste code; confirmed later (timer or payments.confirmPix)
 *   cash                   → authorized at order time, captured at delivery
 */
import crypto from "crypto";

export type PaymentMethod = "card" | "pix" | "cash";

export interface ChargeRequest {
	paymentId: string;
	orderId: string;
	amountCents: number;
	method: PaymentMethod;
	token?: string | null;
	/** Aborted by the caller when it stops waiting (timeout); a provider should give up then. */
	signal?: AbortSignal;
}

export type ChargeResult =
	| { status: "captured" | "authorized"; providerRef: string }
	| { status: "pending"; providerRef: string; pixCode: string }
	| { status: "declined"; providerRef: string; reason: string };

export interface RefundRequest {
	paymentId: string;
	providerRef: string;
	refundId: string;
	amountCents: number;
}

export interface PaymentProvider {
	readonly name: string;
	charge(req: ChargeRequest): Promise<ChargeResult>;
	/** Capture an authorized amount (cash on delivery: when the courier collects it). */
	capture(req: { paymentId: string; providerRef: string; amountCents: number }): Promise<{ providerRef: string }>;
	/** Release an authorization or a pending charge that will not be paid. */
	void(req: { paymentId: string; providerRef: string }): Promise<void>;
	refund(req: RefundRequest): Promise<{ providerRef: string }>;
}

export const TEST_CARDS = {
	success: "4242424242424242",
	declined: "4000000000000002",
	insufficientFunds: "4000000000009995",
	timeout: "4000000000009999",
} as const;

export class ProviderTimeoutError extends Error {
	constructor(ms: number) {
		super(`Payment provider did not answer within ${ms} ms`);
		this.name = "ProviderTimeoutError";
	}
}

/** Runs `call` with an AbortSignal; rejects with ProviderTimeoutError after `ms` and aborts the signal. */
export async function withTimeout<T>(ms: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
	const controller = new AbortController();
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => {
			controller.abort();
			reject(new ProviderTimeoutError(ms));
		}, ms);
	});
	try {
		return await Promise.race([call(controller.signal), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

function ref(prefix: string, ...parts: string[]): string {
	return `${prefix}_${crypto.createHash("sha256").update(parts.join(":")).digest("hex").slice(0, 20)}`;
}

/** A PIX "copia e cola" code in the EMV layout of the real thing (not a payable code). */
export function pixCopyPasteCode(paymentId: string, amountCents: number): string {
	const amount = (amountCents / 100).toFixed(2);
	const txid = ref("tx", paymentId).slice(3, 28);
	const body = `00020126360014BR.GOV.BCB.PIX0114+55119999999990520400005303986540${amount.length}${amount}5802BR5909GasRapido6009SAO PAULO62${String(txid.length + 4).padStart(2, "0")}05${String(txid.length).padStart(2, "0")}${txid}6304`;
	const crc = crypto.createHash("sha1").update(body).digest("hex").slice(0, 4).toUpperCase();
	return body + crc;
}

/** Waits until the signal aborts (the simulated "timeout" card never answers on its own). */
function hangUntilAborted(signal?: AbortSignal): Promise<never> {
	return new Promise((_, reject) => {
		if (!signal) return; // never settles; callers always pass a signal through withTimeout
		if (signal.aborted) return reject(new Error("aborted"));
		signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
	});
}

export class SimulatedProvider implements PaymentProvider {
	readonly name = "simulated";

	async charge(req: ChargeRequest): Promise<ChargeResult> {
		const providerRef = ref("sim", req.paymentId, "charge");
		if (req.method === "cash") return { status: "authorized", providerRef };
		if (req.method === "pix")
			return { status: "pending", providerRef, pixCode: pixCopyPasteCode(req.paymentId, req.amountCents) };
		switch (req.token) {
			case TEST_CARDS.success:
				return { status: "captured", providerRef };
			case TEST_CARDS.declined:
				return { status: "declined", providerRef, reason: "card_declined" };
			case TEST_CARDS.insufficientFunds:
				return { status: "declined", providerRef, reason: "insufficient_funds" };
			case TEST_CARDS.timeout:
				return hangUntilAborted(req.signal);
			default:
				return { status: "declined", providerRef, reason: "unknown_test_card" };
		}
	}

	async capture(req: { paymentId: string; providerRef: string }) {
		return { providerRef: ref("sim", req.paymentId, "capture") };
	}

	async void(): Promise<void> {
		return;
	}

	async refund(req: RefundRequest) {
		return { providerRef: ref("sim", req.paymentId, "refund", req.refundId) };
	}
}

/** How much can still be refunded of a payment. */
export function refundableCents(payment: { capturedCents: number; refundedCents: number }): number {
	return Math.max(0, payment.capturedCents - payment.refundedCents);
}

/**
 * A payment's status for a refunded total: "refunded" when it covers what was captured,
 * "partially_refunded" when some of it is refunded, otherwise back to "captured" (a failed refund
 * undone) or unchanged.
 */
export function refundStatus(capturedCents: number, refundedCents: number, current: string): string {
	if (capturedCents > 0 && refundedCents >= capturedCents) return "refunded";
	if (refundedCents > 0) return "partially_refunded";
	return current === "refunded" || current === "partially_refunded" ? "captured" : current;
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
	if (payment.status === "processing" && settled(payment.updatedAt)) problems.push("payment_stuck");
	return problems;
}
