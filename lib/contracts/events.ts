/**
 * The business-event contract: every event type and the payload (`data`) it carries. publishEvent and
 * every businessEvents handler are typed by this map, so a publisher and its consumers cannot drift;
 * docs/EVENTS.md is checked against it by test/unit/events-contract.test.ts.
 *
 * Ids are strings, money integer cents, times UTC ISO strings. Consumers tolerate extra fields.
 */
import type { Point } from "./common";

export interface OrderItemSummary {
	productId: string;
	type?: string;
	quantity: number;
	exchange?: boolean;
	unitPriceCents?: number;
}

export interface UserCreated {
	userId: string;
	email: string;
	name: string;
	role: string;
	status: string;
	locale: string;
	inviteId: string | null;
	supplierId: string | null;
}
export interface UserUpdated {
	userId: string;
	role: string;
	status: string;
	changed: string[];
}
export interface UserDeleted {
	userId: string;
	role: string;
}
/** Too many failed sign-ins: the account is locked until `lockedUntil` (its owner is told). */
export interface UserLockedOut {
	userId: string;
	role: string;
	failures: number;
	lockedUntil: string;
}
export interface SupplierCreated {
	supplierId: string;
	name: string;
	anpAuthorization?: string | null;
	location: Point | null;
	deliveryRadiusKm: number;
	openingHours: { open: string; close: string } | null;
	rating?: number;
}
export interface InvitationCreated {
	inviteId: string;
	email: string;
	role: string;
	invitedBy: string;
	supplierId: string | null;
	expiresAt: string;
	code: string;
	message?: string | null;
}
export interface InvitationAccepted {
	inviteId: string;
	userId: string;
	role: string;
	supplierId: string | null;
	invitedBy?: string;
}
export interface InvitationExpired {
	inviteId: string;
	email: string;
	role: string;
	invitedBy: string;
	supplierId?: string | null;
}
export interface DocumentUploaded {
	userId: string;
	documentId: string;
	type: string;
	role?: string;
}
export interface VerificationRequested {
	userId: string;
	role: string;
	requestId?: string;
	supplierId?: string | null;
}
export interface VerificationApproved {
	userId: string;
	role: string;
	requestId?: string;
	supplierId?: string | null;
}
export interface VerificationRejected {
	userId: string;
	role: string;
	documentId: string;
	documentType: string;
	reason: string;
}
export interface ProductChanged {
	productId: string;
	supplierId: string;
	type: string;
	priceCents: number;
	stock: number;
	depositCents?: number;
}
export interface InventoryUpdated {
	productId: string;
	supplierId: string;
	/** The cylinder type. */
	type?: string;
	stock: number;
	reserved: number;
	change: number;
	reason: "reserved" | "released" | "committed" | "restocked";
	lowStock: boolean;
	lowStockThreshold: number;
}
export interface OrderCreated {
	orderId: string;
	customerId: string;
	supplierId: string;
	totalCents: number;
	paymentMethod: string;
	items: OrderItemSummary[];
	deliveryLocation: Point;
	scheduledSlot: { from: string; to: string } | null;
	/** Never the token itself: payments takes it with orders.takePaymentToken. */
	hasPaymentToken: boolean;
}
export interface OrderConfirmed {
	orderId: string;
	customerId: string;
	supplierId: string;
	totalCents: number;
	paymentMethod: string;
	cylinders: number;
	deliveryLocation: Point;
	supplierLocation: Point | null;
	confirmedAt: string;
	promisedBy: string | null;
}
export interface OrderInTransit {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
	totalCents?: number;
	paymentMethod?: string;
	inTransitAt?: string;
}
/** The supplier reached a preparation stage of a confirmed order (lib/domain/preparation.ts). */
export interface OrderPreparation {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
	stage: "accepted" | "preparing" | "ready";
	at: string;
}
export interface OrderDelivered {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
	totalCents: number;
	confirmedAt: string | null;
	deliveredAt: string;
	promisedBy: string | null;
	paymentMethod?: string;
	/** Supplier to customer, as priced (the courier's fee is per km). */
	distanceKm?: number;
	/** What was delivered (reorder reminders read the cylinder types). */
	items?: OrderItemSummary[];
}
export interface OrderCancelled {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
	reason: string | null;
	cancelledBy: string;
	wasPaid: boolean;
	totalCents?: number;
	paymentMethod?: string;
}
export interface CourierAssigned {
	orderId: string;
	courierId: string;
	supplierId: string;
	customerId: string;
	etaMinutes: number | null;
	waitedSeconds: number;
}
export interface DeliveryUnassigned {
	orderId: string;
	supplierId: string;
	waitedSeconds: number;
}
export interface DeliveryCompleted {
	orderId: string;
	courierId: string;
	supplierId: string;
	minutes: number;
}
export interface PaymentProcessed {
	paymentId: string;
	orderId: string;
	customerId: string;
	supplierId: string;
	amountCents: number;
	method: string;
	status: "captured" | "authorized" | "pending";
	/** A pending PIX payment's copy-paste code. */
	pixCode?: string;
}
export interface PaymentFailed {
	paymentId: string;
	orderId: string;
	customerId: string;
	supplierId: string;
	amountCents: number;
	method: string;
	reason: string;
}
export interface RefundProcessed {
	paymentId: string;
	refundId: string;
	orderId: string;
	customerId: string;
	amountCents: number;
	/** True once the refunds cover the whole captured amount. */
	fullyRefunded: boolean;
	reason?: string;
}
export interface ReconciliationMismatch {
	/** null for a run-level problem ("too_many_repairs"). */
	orderId: string | null;
	paymentId: string | null;
	problem: string;
	/** With problem "too_many_repairs": how many repairs the run made (more than RECONCILIATION_ALERT_THRESHOLD). */
	repairs?: number;
}
export interface NotificationOutcome {
	notificationId: string;
	/** null for someone without an account (an invitee reached by e-mail). */
	userId: string | null;
	channel: string;
	eventType: string;
	error?: string;
}
export interface ReportGenerated {
	reportId: string;
	kind: string;
	requestedBy: string;
}
export interface AlertChanged {
	alertId: string;
	rule: string;
	severity: string;
	key: string;
	level: number;
	/** The alert's one-line summary (admins' messages quote it). */
	summary?: string;
	note?: string;
}

/** An admin set a supplier's platform commission (basis points; null: back to the default). */
export interface CommissionChanged {
	supplierId: string;
	commissionBps: number | null;
	previousBps: number | null;
	changedBy: string;
}
/** A payout run marked ledger entries paid (run id: running it again pays nothing twice). */
export interface PayoutCompleted {
	runId: string;
	party: "supplier" | "courier";
	until: string;
	requestedBy: string;
	entries: number;
	totalCents: number;
	lines: { partyId: string; entries: number; amountCents: number }[];
}

/** A Gás do Povo voucher paid an order (payments redeemed the claim; the programme owes the supplier). */
export interface VoucherRedeemed {
	voucherId: string;
	orderId: string;
	customerId: string;
	supplierId: string;
	amountCents: number;
}
/** The order paid with the voucher was cancelled: the voucher may be used again. */
export interface VoucherReleased {
	voucherId: string;
	orderId: string;
	supplierId: string;
	reason: string | null;
}
export interface VoucherAccreditationChanged {
	supplierId: string;
	accredited: boolean;
	changedBy: string;
}

/** A customer's cylinder of a type should run out soon (analytics' reorder-reminder job); notifications tells them. */
export interface ReminderDue {
	customerId: string;
	cylinderType: string;
	lastOrderId: string;
	supplierId: string;
	runOutAt: string;
	basis: "history" | "default";
}

/** An order's customer rated it (once per order); `low` when a rating is at or below the low-rating line. */
export interface ReviewSubmitted {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string | null;
	supplierRating: number;
	courierRating: number | null;
	hasComment: boolean;
	low: boolean;
}
/** A supplier's or courier's rating totals after a review (the count only grows: the larger count is the newer). */
export interface RatingUpdated {
	kind: "supplier" | "courier";
	subjectId: string;
	average: number | null;
	count: number;
}

/** A delivered order's receipt was issued (once per order). */
export interface ReceiptIssued {
	orderId: string;
	customerId: string;
	supplierId: string;
	number: string;
	provider: string;
	hasCpf: boolean;
}

/** The courier attached a photo as proof of delivery; `leftWith` when the customer was absent (the name stays in the proof). */
export interface DeliveryProofAttached {
	orderId: string;
	courierId: string;
	supplierId: string;
	customerId: string;
	leftWith: boolean;
}

/** Event type → payload. The one list of business events. */
export interface EventMap {
	"user.created": UserCreated;
	"user.updated": UserUpdated;
	"user.deleted": UserDeleted;
	"user.locked_out": UserLockedOut;
	"supplier.created": SupplierCreated;
	/** The supplier changed its profile (name, location, radius, hours): the catalog takes it at once. */
	"supplier.updated": SupplierCreated;
	"invitation.created": InvitationCreated;
	"invitation.accepted": InvitationAccepted;
	"invitation.expired": InvitationExpired;
	"document.uploaded": DocumentUploaded;
	"verification.requested": VerificationRequested;
	"verification.approved": VerificationApproved;
	"verification.rejected": VerificationRejected;
	"product.created": ProductChanged;
	"product.updated": ProductChanged;
	"product.deleted": ProductChanged;
	"inventory.updated": InventoryUpdated;
	"order.created": OrderCreated;
	"order.confirmed": OrderConfirmed;
	"order.preparation": OrderPreparation;
	"order.in_transit": OrderInTransit;
	"order.delivered": OrderDelivered;
	"order.cancelled": OrderCancelled;
	"courier.assigned": CourierAssigned;
	"delivery.unassigned": DeliveryUnassigned;
	"delivery.completed": DeliveryCompleted;
	"payment.processed": PaymentProcessed;
	"payment.failed": PaymentFailed;
	"refund.processed": RefundProcessed;
	"reconciliation.mismatch": ReconciliationMismatch;
	"notification.sent": NotificationOutcome;
	"notification.failed": NotificationOutcome;
	"report.generated": ReportGenerated;
	"alert.triggered": AlertChanged;
	"alert.escalated": AlertChanged;
	"alert.resolved": AlertChanged;
	"commission.changed": CommissionChanged;
	"payout.completed": PayoutCompleted;
	"voucher.redeemed": VoucherRedeemed;
	"voucher.released": VoucherReleased;
	"voucher.accreditation_changed": VoucherAccreditationChanged;
	"reminder.due": ReminderDue;
	"review.submitted": ReviewSubmitted;
	"rating.updated": RatingUpdated;
	"receipt.issued": ReceiptIssued;
	"delivery.proof_attached": DeliveryProofAttached;
}

export type EventName = keyof EventMap;

/** An event to publish with a state change: recorded in the same write (the outbox). */
export type PendingEvent = { [K in EventName]: { type: K; data: EventMap[K] } }[EventName];

/** Every event type, for code that must list them (the docs check, subscriptions). */
export const EVENT_NAMES: EventName[] = [
	"user.created",
	"user.updated",
	"user.deleted",
	"user.locked_out",
	"supplier.created",
	"supplier.updated",
	"invitation.created",
	"invitation.accepted",
	"invitation.expired",
	"document.uploaded",
	"verification.requested",
	"verification.approved",
	"verification.rejected",
	"product.created",
	"product.updated",
	"product.deleted",
	"inventory.updated",
	"order.created",
	"order.confirmed",
	"order.preparation",
	"order.in_transit",
	"order.delivered",
	"order.cancelled",
	"courier.assigned",
	"delivery.unassigned",
	"delivery.completed",
	"payment.processed",
	"payment.failed",
	"refund.processed",
	"reconciliation.mismatch",
	"notification.sent",
	"notification.failed",
	"report.generated",
	"alert.triggered",
	"alert.escalated",
	"alert.resolved",
	"commission.changed",
	"payout.completed",
	"voucher.redeemed",
	"voucher.released",
	"voucher.accreditation_changed",
	"reminder.due",
	"review.submitted",
	"rating.updated",
	"receipt.issued",
	"delivery.proof_attached",
];
