/**
 * The supplier's preparation of a confirmed order: `accepted` → `preparing` → `ready`, forward only
 * (a stage may be skipped, never gone back to; the same stage again changes nothing). Only the
 * order's supplier or an admin moves it, and only while the order is confirmed (paid, not yet
 * handed to the courier). Pure: the orders service asks `preparationProblem` and applies the stage
 * with a compare-and-set on the stage it read.
 */
import type { OrderPreparation } from "../contracts/events";
import type { Actor, OrderStatus, TransitionProblem } from "./order-status";

export const PREPARATION_STAGES = ["accepted", "preparing", "ready"] as const;
export type PreparationStage = (typeof PREPARATION_STAGES)[number];

/** What the rules read of an order. */
export interface PreparedOrder {
	_id: string;
	status: OrderStatus;
	customerId: string;
	supplierId: string;
	courierId?: string | null;
	preparation?: PreparationStage | null;
}

const rank = (stage: PreparationStage | null | undefined): number => (stage ? PREPARATION_STAGES.indexOf(stage) : -1);

/** The stage after `current` (the first one for an order not accepted yet); null once ready. */
export function nextStage(current: PreparationStage | null | undefined): PreparationStage | null {
	return PREPARATION_STAGES[rank(current) + 1] ?? null;
}

/** Whether asking for `stage` changes nothing (the order is already there): answered 200 as it is. */
export function isSameStage(order: Pick<PreparedOrder, "preparation">, stage: PreparationStage): boolean {
	return order.preparation === stage;
}

/**
 * null when `actor` may put `order` at `stage` (or it is already there); otherwise what is wrong:
 * FORBIDDEN for anyone but the order's supplier or an admin, INVALID_TRANSITION for an order that
 * is not confirmed or a stage behind the current one.
 */
export function preparationProblem(
	order: PreparedOrder,
	stage: PreparationStage,
	actor: Actor,
): TransitionProblem | null {
	const mine = actor.role === "admin" || (actor.role === "supplier" && order.supplierId === actor.id);
	if (!mine) return { type: "FORBIDDEN", message: "Only the order's supplier (or an admin) can prepare it" };
	if (order.status !== "confirmed") return { type: "INVALID_TRANSITION", message: `This order is ${order.status}` };
	if (rank(stage) < rank(order.preparation))
		return { type: "INVALID_TRANSITION", message: "The preparation only moves forward" };
	return null;
}

/** The ISO timestamp field set when an order reaches a stage. */
export function stageTimestampField(stage: PreparationStage): "acceptedAt" | "preparingAt" | "readyAt" {
	return ({ accepted: "acceptedAt", preparing: "preparingAt", ready: "readyAt" } as const)[stage];
}

/** The fields a stage sets on the order. */
export function preparationFields(stage: PreparationStage, now: string): Record<string, string> {
	return { preparation: stage, [stageTimestampField(stage)]: now, updatedAt: now };
}

/** The order.preparation event's payload (the customer is told; `by` is the envelope's actor). */
export function preparationEvent(order: PreparedOrder, stage: PreparationStage, now: string): OrderPreparation {
	return {
		orderId: order._id,
		customerId: order.customerId,
		supplierId: order.supplierId,
		courierId: order.courierId || null,
		stage,
		at: now,
	};
}
