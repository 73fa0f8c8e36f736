/**
 * Orders' rules as pure functions: the order built from a stock reservation, the payloads of the
 * order events, who may see an order, the list query of each role, and what to do with an order
 * still waiting for its payment past the deadline. No IO: the orders service wires them.
 */
import type { AuthUser, Role } from "./access";
import type { OrderCancelled, OrderConfirmed, OrderCreated, OrderDelivered, OrderInTransit } from "../contracts/events";
import type { PendingEvent } from "../contracts/events";
import type { CreateOrderParams, ListOrdersParams, Order, OrderPaymentState, StockAction } from "../contracts/orders";
import type { PaymentMethod, ReservationForOrder, TrackingView } from "../contracts/orders";
import type { Filter } from "../infra/store/types";
import { Actor, historyEntry, OrderStatus, promisedBy, scheduledSlotProblem, timestampField } from "./order-status";
import { cylinderCount, orderLines, orderTotals } from "./pricing";
import { isLivePaymentStatus, isPaymentStatus, isSecuredPaymentStatus } from "./payment-status";
import { isValidCpf, normalizeCpf } from "./cpf";

export interface NewOrderInput {
	orderId: string;
	customer: Actor;
	customerName: string | null;
	params: CreateOrderParams;
	reservation: ReservationForOrder;
	handoverCode: string;
	idempotencyKey?: string;
	requestHash: string;
	now: string;
}

/** A new order, `created`, with lines and totals computed from the reservation's prices (never the client's). */
export function buildOrder(input: NewOrderInput): Order {
	const { params: p, reservation, now } = input;
	const lines = orderLines(reservation.products, p.items);
	const totals = orderTotals(lines, reservation.distanceKm);
	const { lat, lng, ...addressText } = p.deliveryAddress;
	return {
		_id: input.orderId,
		customerId: input.customer.id,
		customerName: input.customerName,
		supplierId: p.supplierId,
		supplierName: reservation.supplier.name,
		items: lines,
		totals,
		totalCents: totals.totalCents,
		distanceKm: Math.round(reservation.distanceKm * 100) / 100,
		deliveryAddress: addressText,
		deliveryLocation: { lat, lng },
		supplierLocation: reservation.supplier.location,
		paymentMethod: p.paymentMethod,
		paymentStatus: "none",
		paymentId: null,
		scheduledSlot: p.scheduledSlot || null,
		...(p.cpf ? { cpf: normalizeCpf(p.cpf) } : {}),
		...(p.changeForCents ? { changeForCents: p.changeForCents } : {}),
		status: "created",
		history: [historyEntry("created", input.customer, now)],
		handoverCode: input.handoverCode,
		handoverFailures: 0,
		courierId: null,
		refundedCents: 0,
		...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
		requestHash: input.requestHash,
		hasPaymentToken: !!p.paymentToken,
		...(p.paymentToken ? { stagedPaymentToken: p.paymentToken } : {}),
		createdAt: now,
		updatedAt: now,
	};
}

// ── Events ───────────────────────────────────────────────────────────────────────────────────

export function orderCreatedEvent(order: Order): OrderCreated {
	return {
		orderId: order._id,
		customerId: order.customerId,
		supplierId: order.supplierId,
		totalCents: order.totalCents,
		paymentMethod: order.paymentMethod,
		items: order.items.map((l) => ({
			productId: l.productId,
			type: l.type,
			quantity: l.quantity,
			exchange: l.exchange,
		})),
		deliveryLocation: order.deliveryLocation,
		scheduledSlot: order.scheduledSlot,
		// Whether payments will find a staged token; the token itself never goes in an event.
		hasPaymentToken: !!order.hasPaymentToken,
	};
}

/** The event of the status the order has reached (none for `created`: see orderCreatedEvent). */
export function orderStatusEvent(order: Order): PendingEvent | null {
	const base = {
		orderId: order._id,
		customerId: order.customerId,
		supplierId: order.supplierId,
		courierId: order.courierId || null,
		totalCents: order.totalCents,
		paymentMethod: order.paymentMethod,
	};
	switch (order.status) {
		case "confirmed": {
			const data: OrderConfirmed = {
				...base,
				cylinders: cylinderCount(order.items),
				deliveryLocation: order.deliveryLocation,
				supplierLocation: order.supplierLocation,
				confirmedAt: order.confirmedAt || order.updatedAt,
				promisedBy: order.promisedBy || null,
			};
			return { type: "order.confirmed", data };
		}
		case "in_transit": {
			const data: OrderInTransit = { ...base, inTransitAt: order.inTransitAt || order.updatedAt };
			return { type: "order.in_transit", data };
		}
		case "delivered": {
			const data: OrderDelivered = {
				...base,
				confirmedAt: order.confirmedAt || null,
				deliveredAt: order.deliveredAt || order.updatedAt,
				promisedBy: order.promisedBy || null,
				distanceKm: order.distanceKm,
				items: orderCreatedEvent(order).items,
			};
			return { type: "order.delivered", data };
		}
		case "cancelled": {
			const data: OrderCancelled = {
				...base,
				reason: order.cancelReason ?? null,
				cancelledBy: order.cancelledBy || "system",
				wasPaid: !!order.wasPaid,
			};
			return { type: "order.cancelled", data };
		}
		default:
			return null;
	}
}

/** The product call a status owes: stock released when cancelled, committed when delivered. */
export function stockActionFor(status: OrderStatus): StockAction | null {
	if (status === "cancelled") return "release";
	if (status === "delivered") return "commit";
	return null;
}

/** The fields set when `order` moves to `to` (with the status, its timestamp, and what the status needs). */
export function transitionFields(
	order: Order,
	to: OrderStatus,
	actor: Actor,
	now: string,
	opts: { reason?: string; promiseMinutes: number },
): Partial<Order> {
	const set: Partial<Order> = { status: to, [timestampField(to)]: now, updatedAt: now };
	if (to === "confirmed") set.promisedBy = promisedBy(now, order.scheduledSlot, opts.promiseMinutes);
	if (to === "cancelled") {
		set.cancelReason = opts.reason || null;
		set.cancelledBy = actor.id;
		set.wasPaid = order.paymentStatus === "captured" || order.paymentStatus === "partially_refunded";
	}
	const stock = stockActionFor(to);
	if (stock) set.stockAction = stock;
	return set;
}

// ── Who sees what ────────────────────────────────────────────────────────────────────────────

/** Whether this user may see the order: admins all, the others their own (couriers once assigned). */
export function maySeeOrder(
	order: Pick<Order, "customerId" | "supplierId" | "courierId">,
	user: { id: string; role: Role },
): boolean {
	if (user.role === "admin") return true;
	if (user.role === "customer") return order.customerId === user.id;
	if (user.role === "supplier") return order.supplierId === user.id;
	if (user.role === "courier") return !!order.courierId && order.courierId === user.id;
	return false;
}

/** The handover code is for the customer to give the courier: only they and admins see it. */
export function maySeeHandoverCode(order: Pick<Order, "customerId">, user: { id: string; role: Role }): boolean {
	return user.role === "admin" || (user.role === "customer" && order.customerId === user.id);
}

/** What couriers' tracking stream may know of an order for this user: nothing unless they may see it. */
export function trackingView(order: Order | null, user: { id: string; role: Role }): TrackingView {
	if (!order || !maySeeOrder(order, user))
		return {
			visible: false,
			status: null,
			deliveryLocation: null,
			courierId: null,
			customerId: null,
			supplierId: null,
		};
	const { status, deliveryLocation, customerId, supplierId } = order;
	const supplierLocation = order.supplierLocation || null;
	return {
		visible: true,
		status,
		deliveryLocation,
		supplierLocation,
		courierId: order.courierId || null,
		customerId,
		supplierId,
	};
}

/** An order as payments' reconciliation sees it. */
export function orderPaymentState(o: Order): OrderPaymentState {
	return {
		orderId: o._id,
		status: o.status,
		customerId: o.customerId,
		supplierId: o.supplierId,
		totalCents: o.totalCents,
		paymentMethod: o.paymentMethod,
		paymentStatus: o.paymentStatus,
		wasPaid: !!o.wasPaid,
		createdAt: o.createdAt,
		updatedAt: o.updatedAt,
	};
}

/** Why an order request is refused before any stock is reserved (field names for the 422), or null. */
export function orderRequestProblem(params: CreateOrderParams, now: Date): { message: string; field: string } | null {
	const ids = params.items.map((i) => i.productId);
	if (new Set(ids).size !== ids.length) return { message: "List each product once, with its quantity", field: "items" };
	if (params.paymentMethod === "card" && !params.paymentToken)
		return { message: "A card payment needs a paymentToken", field: "paymentToken" };
	if (params.paymentMethod === "voucher" && !params.paymentToken)
		return {
			message: "A voucher payment needs the paymentToken of a voucher claim (POST /api/vouchers/claims)",
			field: "paymentToken",
		};
	if (params.cpf !== undefined && !isValidCpf(params.cpf))
		return { message: "Not a valid CPF (check digits)", field: "cpf" };
	if (params.changeForCents && params.paymentMethod !== "cash")
		return { message: "Change is only brought for cash payments", field: "changeForCents" };
	const slotProblem = params.scheduledSlot ? scheduledSlotProblem(params.scheduledSlot, now) : null;
	return slotProblem ? { message: slotProblem, field: "scheduledSlot" } : null;
}

/** Why the cash note the customer will pay with does not cover the order (computed total), or null. */
export function changeForProblem(order: Pick<Order, "changeForCents" | "totalCents">): string | null {
	return order.changeForCents !== undefined && order.changeForCents < order.totalCents
		? "The note to change must cover the order's total"
		: null;
}

/**
 * Whether `actor`'s retry of a move may finish what the move owes products: the order is in
 * `status` with a stock call still owed, and the actor made that move (or is an admin).
 */
export function mayFinishStock(order: Order, status: OrderStatus, actor: Actor): boolean {
	if (order.status !== status || !order.stockAction) return false;
	if (actor.role === "admin") return true;
	const entry = [...order.history].reverse().find((h) => h.status === status);
	return !!entry && entry.by === actor.id;
}

/** Where a keyset page starts: after this order in (createdAt desc, _id desc). */
export interface ListPosition {
	createdAt: string;
	id: string;
}

/** The newest-first sort of order lists; each role's query has an index on (its field, createdAt). */
export const ORDER_LIST_SORT = ["-createdAt", "-_id"];

/** The orders a user's list shows: their own (admins all), with the filters their role may use. */
export function orderListQuery(me: AuthUser, p: ListOrdersParams, after?: ListPosition | null): Filter {
	const query: Filter = {};
	if (me.role === "customer") query.customerId = me.id;
	else if (me.role === "supplier") query.supplierId = me.id;
	else if (me.role === "courier") query.courierId = me.id;
	if ((me.role === "admin" || me.role === "courier") && p.supplierId) query.supplierId = p.supplierId;
	if ((me.role === "admin" || me.role === "supplier") && p.customerId) query.customerId = p.customerId;
	if (p.status) query.status = p.status;
	if (p.from || p.to) {
		const range: Record<string, string> = {};
		if (p.from) range.$gte = new Date(p.from).toISOString();
		if (p.to) range.$lte = new Date(p.to).toISOString();
		query.createdAt = range;
	}
	if (!after) return query;
	const afterPosition = {
		$or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, _id: { $lt: after.id } }],
	};
	return { $and: [query, afterPosition] };
}

// ── Orders waiting for their payment ─────────────────────────────────────────────────────────

/** What to do with an order still `created` past the payment deadline. */
export type PaymentRepair = "confirm" | "wait" | "cancel";

/** A PIX order's payment window: still payable by the customer ("waiting"), or past PIX_EXPIRY_MS ("expired"). */
export type PixWindow = "waiting" | "expired";

/**
 * Given the payment payments holds for the order (null: none): confirm it when the money is secured,
 * leave it while an outcome is still coming (or a retry window is open), cancel it otherwise (no
 * payment, failed, refunded). payments' `new` counts as `none`; a status not known here waits.
 *
 * A PIX order (`pix` given) is payable until its expiry: before it, an order with no payment yet
 * waits too (its PIX is about to be issued); after it, a PIX still pending (or never issued) is
 * cancelled — the customer can no longer pay it.
 */
export function paymentRepairFor(
	payment: { status: string } | null,
	retryWindowOpen: boolean,
	pix?: PixWindow,
): PaymentRepair {
	const status = !payment || payment.status === "new" ? "none" : payment.status;
	if (!isPaymentStatus(status)) return "wait";
	if (isSecuredPaymentStatus(status)) return "confirm";
	if (pix === "expired" && (status === "pending" || status === "none")) return "cancel";
	if (isLivePaymentStatus(status) || retryWindowOpen) return "wait";
	if (pix === "waiting" && status === "none") return "wait";
	return "cancel";
}

const PAYMENT_METHODS: readonly PaymentMethod[] = ["card", "pix", "cash", "voucher"];

/** A payment event's method as an order's payment method; undefined for anything else (never stored). */
export function paymentMethodOf(method: unknown): PaymentMethod | undefined {
	return PAYMENT_METHODS.find((m) => m === method);
}
