/**
 * Ratings and reviews: after delivery an order's customer rates the supplier and the courier
 * (1–5, an optional comment), once per order. Averages are kept per supplier and per courier; a
 * rating at or below LOW_RATING_MAX is shown to admins as an alert (lib/domain/alert-rules.ts).
 */
import { ErrorType, refusal } from "../contracts/error-catalogue";

export const MIN_RATING = 1;
export const MAX_RATING = 5;
/** A rating at or below this raises the low_rating alert (the rule's default threshold). */
export const LOW_RATING_MAX = 2;
export const MAX_COMMENT_LENGTH = 1000;

export type RatedKind = "supplier" | "courier";

/** What the reviews service knows of an order when it is rated (orders.trackingView). */
export interface RatedOrder {
	orderId: string;
	status: string | null;
	customerId: string | null;
	supplierId: string | null;
	courierId: string | null;
}

export interface ReviewRequest {
	supplierRating: number;
	courierRating?: number;
	comment?: string;
}

/** A refusal as data: the service turns it into a client error. */
export interface ReviewProblem {
	code: number;
	type: ErrorType;
	message: string;
	field?: string;
}

/** Why `user` may not rate `order` with `request` (null: they may). One review per order is the store's unique key. */
export function reviewProblem(
	order: RatedOrder | null,
	user: { id: string; role: string },
	request: ReviewRequest,
): ReviewProblem | null {
	if (!order || !order.customerId) return { ...refusal("NOT_FOUND"), message: "order not found" };
	if (user.role !== "customer" || order.customerId !== user.id)
		return { ...refusal("FORBIDDEN"), message: "Only the order's customer can rate it" };
	if (order.status !== "delivered")
		return { ...refusal("NOT_DELIVERED"), message: "An order can be rated once it is delivered" };
	if (request.courierRating !== undefined && !order.courierId)
		return {
			...refusal("UNPROCESSABLE"),
			message: "No courier delivered this order",
			field: "courierRating",
		};
	return null;
}

/** The lowest rating given in a review (what the low-rating alert looks at). */
export function lowestRating(review: { supplierRating: number; courierRating: number | null }): number {
	return review.courierRating === null ? review.supplierRating : Math.min(review.supplierRating, review.courierRating);
}

export function isLowRating(review: { supplierRating: number; courierRating: number | null }, max = LOW_RATING_MAX) {
	return lowestRating(review) <= max;
}

/** Average to two decimals; null with no ratings. */
export function averageRating(sum: number, count: number): number | null {
	return count > 0 ? Math.round((sum / count) * 100) / 100 : null;
}

/** The key of a subject's running totals. */
export function statsKey(kind: RatedKind, id: string): string {
	return `${kind}:${id}`;
}
