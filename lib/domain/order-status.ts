/**
 * The order state machine: which status may follow which, who may make each move and what it needs.
 * `created → confirmed → in_transit → delivered`, and `cancelled` from created or confirmed.
 * (While confirmed, the supplier prepares the order: lib/domain/preparation.ts.)
 * Pure: the orders service asks `checkTransition` and applies the answer with a compare-and-set.
 */
import type { ErrorType } from "../contracts/error-catalogue";
import type { PreparationStage } from "./preparation";

export const ORDER_STATUSES = ["created", "confirmed", "in_transit", "delivered", "cancelled"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** "system" is the saga (payment events) acting without a user. */
export type ActorRole = "customer" | "supplier" | "courier" | "admin" | "system";

export interface Actor {
	id: string;
	role: ActorRole;
}

export interface OrderParties {
	status: OrderStatus;
	customerId: string;
	supplierId: string;
	courierId?: string | null;
	handoverCode?: string;
	/** Delivery attempts by the courier with a wrong handover code (locked at MAX_HANDOVER_FAILURES). */
	handoverFailures?: number;
}

/** Digits of the handover code the customer gives the courier. */
export const HANDOVER_CODE_DIGITS = 6;
/** Wrong handover codes after which the courier can no longer deliver the order (an admin must). */
export const MAX_HANDOVER_FAILURES = 5;

export interface TransitionInput {
	reason?: string;
	handoverCode?: string;
}

/** What is wrong with a transition; its HTTP status and translations are the error catalogue's. */
export interface TransitionProblem {
	type: Extract<
		ErrorType,
		| "INVALID_TRANSITION"
		| "FORBIDDEN"
		| "HANDOVER_LOCKED"
		| "REASON_REQUIRED"
		| "HANDOVER_CODE_REQUIRED"
		| "WRONG_HANDOVER_CODE"
	>;
	message: string;
}

const NEXT: Record<OrderStatus, OrderStatus[]> = {
	created: ["confirmed", "cancelled"],
	confirmed: ["in_transit", "cancelled"],
	in_transit: ["delivered"],
	delivered: [],
	cancelled: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
	return NEXT[from].includes(to);
}

export function isFinal(status: OrderStatus): boolean {
	return NEXT[status].length === 0;
}

/** The ISO timestamp field set when an order enters a status. */
export function timestampField(status: OrderStatus): string {
	return {
		created: "createdAt",
		confirmed: "confirmedAt",
		in_transit: "inTransitAt",
		delivered: "deliveredAt",
		cancelled: "cancelledAt",
	}[status];
}

function isParty(order: OrderParties, actor: Actor): boolean {
	if (actor.role === "customer") return order.customerId === actor.id;
	if (actor.role === "supplier") return order.supplierId === actor.id;
	if (actor.role === "courier") return !!order.courierId && order.courierId === actor.id;
	return true;
}

const forbidden = (message: string): TransitionProblem => ({ type: "FORBIDDEN", message });

function confirmProblem(actor: Actor): TransitionProblem | null {
	if (actor.role === "system" || actor.role === "admin") return null;
	return forbidden("Orders are confirmed by their payment (or by an admin)");
}

/** The assigned courier picks the order up, or its supplier hands it to that courier (one must be assigned). */
function inTransitProblem(order: OrderParties, actor: Actor): TransitionProblem | null {
	if (actor.role === "admin") return null;
	if (actor.role === "courier" && isParty(order, actor)) return null;
	if (actor.role === "supplier" && isParty(order, actor))
		return order.courierId
			? null
			: { type: "INVALID_TRANSITION", message: "The order has no courier yet to hand it to" };
	return forbidden("Only the assigned courier, the order's supplier (or an admin) can start the delivery");
}

function deliveredProblem(order: OrderParties, actor: Actor, input: TransitionInput): TransitionProblem | null {
	if (actor.role === "admin") return null;
	if (actor.role !== "courier" || !isParty(order, actor))
		return forbidden("Only the assigned courier (or an admin) can mark the order delivered");
	if ((order.handoverFailures || 0) >= MAX_HANDOVER_FAILURES)
		return {
			type: "HANDOVER_LOCKED",
			message: "Too many wrong handover codes: an admin must deliver or cancel this order",
		};
	if (!input.handoverCode) return { type: "HANDOVER_CODE_REQUIRED", message: "Ask the customer for the handover code" };
	if (input.handoverCode !== order.handoverCode)
		return { type: "WRONG_HANDOVER_CODE", message: "The handover code does not match" };
	return null;
}

function cancelProblem(order: OrderParties, actor: Actor, input: TransitionInput): TransitionProblem | null {
	if (actor.role === "courier") return forbidden("Couriers cannot cancel orders");
	if (!isParty(order, actor)) return forbidden("This is not your order");
	// The customer may change their mind without explaining; anyone else cancelling someone's order says why.
	const needsReason = actor.role === "supplier" || actor.role === "admin";
	if (needsReason && !(input.reason && input.reason.trim()))
		return { type: "REASON_REQUIRED", message: "Say why the order is cancelled" };
	return null;
}

/** null when `actor` may move `order` to `to` with `input`; otherwise what is wrong (its type's status: the error catalogue). */
export function checkTransition(
	order: OrderParties,
	to: OrderStatus,
	actor: Actor,
	input: TransitionInput = {},
): TransitionProblem | null {
	if (!canTransition(order.status, to))
		return { type: "INVALID_TRANSITION", message: `An order cannot go from ${order.status} to ${to}` };
	switch (to) {
		case "confirmed":
			return confirmProblem(actor);
		case "in_transit":
			return inTransitProblem(order, actor);
		case "delivered":
			return deliveredProblem(order, actor, input);
		case "cancelled":
			return cancelProblem(order, actor, input);
		default:
			return { type: "INVALID_TRANSITION", message: `An order cannot go to ${to}` };
	}
}

export interface HistoryEntry {
	status: OrderStatus;
	at: string;
	by: string;
	role: ActorRole;
	reason?: string;
	note?: string;
	/** A preparation stage the supplier reached (the status stays confirmed). */
	stage?: PreparationStage;
	/** In answers only: what the entry says to the reader, in their language (lib/domain/order-labels.ts). */
	label?: string;
}

export function historyEntry(
	status: OrderStatus,
	actor: Actor,
	at: string,
	extra: { reason?: string; note?: string; stage?: PreparationStage } = {},
): HistoryEntry {
	const entry: HistoryEntry = { status, at, by: actor.id, role: actor.role };
	if (extra.reason) entry.reason = extra.reason;
	if (extra.note) entry.note = extra.note;
	if (extra.stage) entry.stage = extra.stage;
	return entry;
}

/** Minutes within which a confirmed order without a scheduled slot is promised. */
export const DEFAULT_PROMISE_MINUTES = 60;

export interface TimeSlot {
	from: string;
	to: string;
}

/** Why a requested delivery slot is unacceptable, or null: ISO times, in the future, 30 min–4 h long, within 7 days. */
export function scheduledSlotProblem(slot: TimeSlot, now: Date): string | null {
	const from = Date.parse(slot.from);
	const to = Date.parse(slot.to);
	if (!Number.isFinite(from) || !Number.isFinite(to)) return "The slot's times must be ISO dates";
	if (to <= from) return "The slot must end after it starts";
	if (from < now.getTime() - 60_000) return "The slot must start in the future";
	const minutes = (to - from) / 60_000;
	if (minutes < 30 || minutes > 240) return "The slot must last between 30 minutes and 4 hours";
	if (from > now.getTime() + 7 * 24 * 3600_000) return "The slot must start within 7 days";
	return null;
}

/** When a confirmed order is promised: the end of its slot, or `minutes` after confirmation. */
export function promisedBy(confirmedAt: string, slot?: TimeSlot | null, minutes = DEFAULT_PROMISE_MINUTES): string {
	if (slot) return new Date(Date.parse(slot.to)).toISOString();
	return new Date(Date.parse(confirmedAt) + minutes * 60_000).toISOString();
}
