/** Stored shapes of the orders service, and the params and results of its actions. */
import type { StoredDoc } from "../infra/store/types";
import type { Point, Role } from "./common";
import type { HistoryEntry, OrderStatus, TimeSlot } from "../domain/order-status";
import type { OrderLine, OrderTotals, PricedProduct } from "../domain/pricing";
import type { OrderPaymentStatus as PaymentStatus } from "../domain/payment-status";
import type { PreparationStage } from "../domain/preparation";
import { ORDER_STATUSES } from "../domain/order-status";
import { PREPARATION_STAGES } from "../domain/preparation";
import { idParam, isoTimeParam, optionalId, pageParams, timeRangeParams } from "./params";

export type { OrderStatus } from "../domain/order-status";
export type { OrderPaymentStatus as PaymentStatus } from "../domain/payment-status";

export type PaymentMethod = "card" | "pix" | "cash" | "voucher";

/** The delivery address as shown (its coordinates are kept apart, in `deliveryLocation`). */
export interface DeliveryAddressText {
	street?: string;
	number?: string;
	complement?: string;
	district?: string;
	city?: string;
	state?: string;
	/** CEP, 00000-000. */
	postcode?: string;
	notes?: string;
	/** A phone the courier may call at the door. */
	phone?: string;
}

/** A product call still owed for a status reached (cleared once products answered; retried until then). */
export type StockAction = "release" | "commit";

/** An order (collection `orders`). */
export interface Order extends StoredDoc {
	customerId: string;
	customerName: string | null;
	supplierId: string;
	supplierName: string | null;
	items: OrderLine[];
	totals: OrderTotals;
	totalCents: number;
	distanceKm: number;
	deliveryAddress: DeliveryAddressText;
	deliveryLocation: Point;
	supplierLocation: Point | null;
	paymentMethod: PaymentMethod;
	paymentStatus: PaymentStatus;
	paymentId: string | null;
	scheduledSlot: TimeSlot | null;
	status: OrderStatus;
	history: HistoryEntry[];
	/** "CPF na nota": the customer's CPF (digits) for the receipt; not shown to the courier. */
	cpf?: string;
	/** Given by the customer to the courier at the door; shown to the customer and admins only. */
	handoverCode: string;
	handoverFailures: number;
	courierId: string | null;
	assignedAt?: string;
	etaMinutes?: number | null;
	refundedCents: number;
	/** Refund id → amount, so that a refund is counted once whatever the envelope. */
	refunds?: Record<string, number>;
	/** `${customerId}:${Idempotency-Key}` of the POST that created it. */
	idempotencyKey?: string;
	requestHash: string;
	hasPaymentToken: boolean;
	/** Kept only until payments takes it (orders.takePaymentToken); never shown, never in an event. */
	stagedPaymentToken?: string;
	/** Set with the status that needs it, cleared when products confirmed it. */
	stockAction?: StockAction;
	/** Cash: the note the customer pays with, so the courier brings change ("troco para"). */
	changeForCents?: number;
	/** PAYMENT_RETRY_GRACE_MS: until when a failed payment may be paid again. */
	paymentRetryUntil?: string;
	paymentFailure?: string;
	confirmedAt?: string;
	/** The supplier's preparation of the confirmed order (lib/domain/preparation.ts); absent until accepted. */
	preparation?: PreparationStage;
	acceptedAt?: string;
	preparingAt?: string;
	readyAt?: string;
	inTransitAt?: string;
	deliveredAt?: string;
	cancelledAt?: string;
	promisedBy?: string;
	cancelReason?: string | null;
	cancelledBy?: string;
	wasPaid?: boolean;
	createdAt: string;
	updatedAt: string;
}

/** The local read model of customers (record kind `customers`), so order views can name them. */
export interface CustomerView extends StoredDoc {
	/** The user id. */
	_id: string;
	name: string;
	updatedAt: string;
}

/** Fields of an order never shown to anyone. */
export const ORDER_HIDDEN_FIELDS = [
	"idempotencyKey",
	"requestHash",
	"hasPaymentToken",
	"stagedPaymentToken",
	"stockAction",
] as const satisfies readonly (keyof Order)[];

/** An order as its parties see it: `id`, no internal fields, the handover code for the customer and admins. */
export type OrderView = Omit<Order, "_id" | (typeof ORDER_HIDDEN_FIELDS)[number] | "handoverCode"> & {
	id: string;
	handoverCode?: string;
};

/** What products.reserveStock answers (the part orders reads). */
export interface ReservationForOrder {
	supplier: { name: string; location: Point | null };
	distanceKm: number;
	products: PricedProduct[];
}

// ── Action params and results ────────────────────────────────────────────────────────────────

export interface CreateOrderItem {
	productId: string;
	quantity: number;
	exchange: boolean;
}

export interface CreateOrderParams {
	supplierId: string;
	items: CreateOrderItem[];
	deliveryAddress: DeliveryAddressText & Point;
	paymentMethod: PaymentMethod;
	paymentToken?: string;
	scheduledSlot?: TimeSlot;
	/** "CPF na nota" (check digits validated; formatted or digits only). */
	cpf?: string;
	changeForCents?: number;
}

export interface ListOrdersParams {
	status?: OrderStatus;
	from?: string;
	to?: string;
	supplierId?: string;
	customerId?: string;
	page: number;
	pageSize: number;
	/** The `next` of the previous page (keyset pagination). */
	cursor?: string;
	/** Count the matching orders (`total`); not done unless asked. */
	withTotal?: boolean;
}

export interface UpdateStatusParams {
	id: string;
	status: "confirmed" | "in_transit" | "delivered" | "cancelled";
	reason?: string;
	handoverCode?: string;
	/** Delivered to someone else for an absent customer: their name (a proof photo must be attached first). */
	leftWith?: string;
}

export interface PreparationParams {
	id: string;
	stage: PreparationStage;
}

/** orders.trackingView: may this user follow this order live, and what the tracking stream needs. */
export interface TrackingViewParams {
	orderId: string;
	userId: string;
	role: Role;
}

export interface TrackingView {
	visible: boolean;
	/** Where the courier picks the order up (the ETA goes by it until the order is in transit). */
	supplierLocation?: Point | null;
	status: OrderStatus | null;
	deliveryLocation: Point | null;
	courierId: string | null;
	customerId: string | null;
	supplierId: string | null;
}

/** orders.statusesFor: the state of an order, for payments' reconciliation and payment retries. */
export interface OrderPaymentState {
	orderId: string;
	status: OrderStatus;
	customerId: string;
	supplierId: string;
	totalCents: number;
	paymentMethod: PaymentMethod;
	paymentStatus: PaymentStatus;
	wasPaid: boolean;
	createdAt: string;
	updatedAt: string;
}

/** What payments.forOrder answers (null: no payment for the order). */
export interface PaymentForOrder {
	status: string;
	paymentId?: string;
}

// ── Action param schemas (fastest-validator) ─────────────────────────────────────────────────

/** Clients may echo what their cart showed; the server computes every amount itself and ignores these. */
const ignoredCents = { type: "number", optional: true } as const;

export const createOrderParams = {
	supplierId: idParam,
	items: {
		type: "array",
		min: 1,
		max: 20,
		items: {
			type: "object",
			strict: true,
			props: {
				productId: idParam,
				quantity: { type: "number", integer: true, min: 1, max: 50 },
				exchange: { type: "boolean", default: true },
				unitPriceCents: ignoredCents,
				priceCents: ignoredCents,
			},
		},
	},
	deliveryAddress: {
		type: "object",
		strict: true,
		props: {
			street: { type: "string", max: 200, optional: true },
			number: { type: "string", max: 20, optional: true },
			complement: { type: "string", max: 100, optional: true },
			district: { type: "string", max: 100, optional: true },
			city: { type: "string", max: 100, optional: true },
			state: { type: "string", max: 60, optional: true },
			postcode: { type: "string", pattern: /^\d{5}-?\d{3}$/, optional: true },
			notes: { type: "string", max: 300, optional: true },
			phone: { type: "string", optional: true, pattern: /^\+?[0-9 ()-]{8,20}$/ },
			lat: { type: "number", min: -90, max: 90 },
			lng: { type: "number", min: -180, max: 180 },
		},
	},
	paymentMethod: { type: "enum", values: ["card", "pix", "cash", "voucher"] },
	paymentToken: { type: "string", min: 1, max: 200, optional: true },
	scheduledSlot: { type: "object", strict: true, optional: true, props: { from: isoTimeParam, to: isoTimeParam } },
	cpf: { type: "string", min: 11, max: 14, trim: true, optional: true },
	/** Cash only: the note the customer pays with ("troco para R$ 200"), at least the total. */
	changeForCents: { type: "number", integer: true, min: 1, max: 10_000_000, optional: true },
	totalCents: ignoredCents,
	itemsCents: ignoredCents,
	depositsCents: ignoredCents,
	deliveryFeeCents: ignoredCents,
} as const;

export const listOrdersParams = {
	status: { type: "enum", values: ORDER_STATUSES, optional: true },
	...timeRangeParams,
	supplierId: optionalId,
	customerId: optionalId,
	...pageParams,
	cursor: { type: "string", min: 1, max: 200, optional: true },
	withTotal: { type: "boolean", convert: true, optional: true },
} as const;

export const updateStatusParams = {
	id: idParam,
	status: { type: "enum", values: ["confirmed", "in_transit", "delivered", "cancelled"] },
	reason: { type: "string", min: 1, max: 500, trim: true, optional: true },
	handoverCode: { type: "string", pattern: /^\d{4,8}$/, optional: true },
	leftWith: { type: "string", min: 1, max: 120, trim: true, optional: true },
} as const;

export const preparationParams = {
	id: idParam,
	stage: { type: "enum", values: PREPARATION_STAGES },
} as const;

export const trackingViewParams = {
	orderId: idParam,
	userId: idParam,
	role: { type: "enum", values: ["customer", "supplier", "courier", "admin"] },
} as const;
