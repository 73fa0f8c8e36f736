/** Stored shapes of the reviews service, and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import type { ReviewSubmitted } from "./events";
import { MAX_COMMENT_LENGTH, MAX_RATING, MIN_RATING } from "../domain/reviews";
import type { RatedKind } from "../domain/reviews";
import { idParam, pageParams } from "./params";

/** One order's review (collection `reviews`, `_id` = orderId: one review per order); its parties and ratings as review.submitted carries them. */
export interface Review extends StoredDoc, Omit<ReviewSubmitted, "hasComment" | "low"> {
	comment: string | null;
	/** Set once the ratings are added to the subjects' totals (so that they are added once). */
	counted: boolean;
	createdAt: string;
}

/** Running totals of a supplier's or courier's ratings (kind `stats`, `_id` = `${kind}:${id}`). */
export interface RatingStats extends StoredDoc {
	kind: RatedKind;
	subjectId: string;
	count: number;
	sum: number;
	/** How many of each rating, 1..5 (index 0 = rating 1). */
	histogram: number[];
	updatedAt: string;
}

export interface RatingSummary {
	average: number | null;
	count: number;
	histogram: number[];
}

/** A review as the public sees it on a supplier's page: no customer id, no courier rating. */
export interface PublicReview {
	orderId: string;
	rating: number;
	comment: string | null;
	createdAt: string;
}

export interface SubmitReviewParams {
	orderId: string;
	supplierRating: number;
	courierRating?: number;
	comment?: string;
}

export interface SupplierReviewsParams {
	supplierId: string;
	page: number;
	pageSize: number;
}

const rating = { type: "number", integer: true, min: MIN_RATING, max: MAX_RATING, convert: true } as const;

export const REVIEW_PARAMS = {
	submit: {
		orderId: idParam,
		supplierRating: rating,
		courierRating: { ...rating, optional: true },
		comment: { type: "string", max: MAX_COMMENT_LENGTH, trim: true, optional: true },
	},
	forOrder: { orderId: idParam },
	supplierReviews: { supplierId: idParam, ...pageParams },
	courierRating: { courierId: idParam },
	stats: { kind: { type: "enum", values: ["supplier", "courier"] }, ids: { type: "array", max: 500, items: idParam } },
	recount: { kind: { type: "enum", values: ["supplier", "courier"] }, subjectId: idParam },
} as const;
