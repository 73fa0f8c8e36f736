/** Stored shapes of the payments service, and its actions' params and results. */
import type { StoredDoc } from "../infra/store/types";
import type { PaymentStatus } from "../domain/payment-status";
import type { ChargeResult, PaymentMethod } from "../infra/payment-provider";

export type { PaymentStatus } from "../domain/payment-status";
export type { PaymentMethod } from "../infra/payment-provider";

/** One line of a payment's ledger. */
export interface PaymentTransaction {
	id: string;
	kind: "charge" | "capture" | "refund" | "void";
	status: string;
	amountCents: number;
	method?: string;
	providerRef?: string;
	/** Why a charge was declined. */
	reason?: string;
	/** Who asked for a refund (a user id, or "system"). */
	by?: string;
	/** Why the provider refused a refund. */
	error?: string;
	at: string;
}

/** A refund reserved against the payment and sent to the provider, its outcome not recorded yet. */
export interface RefundInFlight {
	amountCents: number;
	reason: string;
	by: string;
	at: string;
}

/** The one payment of an order (unique orderId). */
export interface Payment extends StoredDoc {
	orderId: string;
	customerId: string;
	supplierId: string;
	/** "unknown" only for a payment voided before payments saw the order (order.cancelled first). */
	method: PaymentMethod | "unknown";
	amountCents: number;
	status: PaymentStatus;
	capturedCents: number;
	refundedCents: number;
	/** Charges attempted (each with its own idempotency key, see chargeKey). */
	attempts: number;
	transactions: PaymentTransaction[];
	/** The idempotency key of the current (or last) charge: `charge:<paymentId>[:<attempt>]`. */
	chargeKey?: string;
	/** When the payment was written `processing` (the reconciliation's clock for a stuck charge). */
	processingSince?: string;
	/** The payment token of a charge in progress; removed with the charge's outcome, never shown. */
	pendingToken?: string;
	providerRef?: string;
	pixCode?: string;
	failureReason?: string;
	/** When reconciliation last published payment.processed again for this payment. */
	republishedAt?: string;
	/** Refunds sent to the provider whose outcome is not recorded yet, by refund id. */
	refundsInFlight?: Record<string, RefundInFlight>;
	/** The automatic refund of a cancelled order was claimed (once). */
	autoRefunded?: boolean;
	/** The order was cancelled (a charge finishing later is refunded or voided). */
	orderCancelled?: boolean;
	createdAt: string;
	updatedAt: string;
}

/** The simulated provider's memory of idempotency keys (a record kind of the payments store). */
export interface ProviderKeyRecord extends StoredDoc {
	/** `_id` is the idempotency key. */
	operation: "charge" | "refund";
	/** The first request's fingerprint: a key reused for another request is refused. */
	fingerprint: string;
	outcome: ChargeResult | { status: "refunded"; providerRef: string };
	at: string;
}

/** What actions return: `_id` as `id`, internal fields left out. */
export type PaymentView = Omit<Payment, "_id" | "pendingToken" | "autoRefunded"> & { id: string };

// ---- Actions ----

export interface PayParams {
	orderId: string;
	method?: "card" | "pix";
	paymentToken?: string;
}
export interface ListPaymentsParams {
	orderId?: string;
	status?: string;
	page: number;
	pageSize: number;
}
export interface RefundParams {
	id: string;
	amountCents?: number;
	reason: string;
}
export interface ConfirmPixParams {
	paymentId: string;
}
export interface ReconcileParams {
	graceMs?: number;
}
export interface ForOrderParams {
	orderId: string;
}

/** payments.forOrder: the order's payment in short, or null when it has none. */
export interface PaymentSummary {
	paymentId: string;
	status: PaymentStatus;
	method: PaymentMethod | "unknown";
	amountCents: number;
}

/** A disagreement between an order and its payment that reconciliation did not repair. */
export interface Mismatch {
	orderId: string | null;
	paymentId: string | null;
	problem: string;
	/** With problem "too_many_repairs": how many repairs the run made. */
	repairs?: number;
}

/**
 * processing_succeeded / processing_failed: a charge left `processing` whose outcome the provider
 * knew; processing_recharged: one the provider never received, charged again under its key;
 * cancelled_refunded: a cancelled order's captured payment refunded; processed_republished:
 * payment.processed published again for a paid order still `created`; refund_resolved: a refund
 * left in flight asked again under its key.
 */
export type RepairKind =
	| "processing_succeeded"
	| "processing_failed"
	| "processing_recharged"
	| "cancelled_refunded"
	| "processed_republished"
	| "refund_resolved"
	/** A PIX left pending (its confirmation timer lost in a restart) that the provider says was paid. */
	| "pix_confirmed"
	/** A PIX left pending past PIX_EXPIRY_MS: recorded failed, the order is cancelled. */
	| "pix_expired";

/** A repair reconciliation made. */
export interface Repair {
	kind: RepairKind;
	orderId: string;
	paymentId: string;
}

export interface ReconcileReport {
	checked: number;
	mismatches: Mismatch[];
	repairs: Repair[];
}

/** What orders.statusesFor returns for one order (read by payments). */
export interface OrderStatusRow {
	orderId: string;
	status: string;
	customerId: string;
	supplierId: string;
	totalCents: number;
	paymentMethod: string;
	paymentStatus?: string;
	wasPaid: boolean;
	createdAt: string;
	updatedAt: string;
}
