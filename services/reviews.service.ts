/**
 * Reviews: after delivery an order's customer rates the supplier and the courier (1–5, an optional
 * comment), once per order (`_id` = orderId: a second review is 409). Who may rate is decided with
 * the order's facts from orders.trackingView (lib/domain/reviews.ts `reviewProblem`).
 *
 *   POST /api/reviews ─► review stored with review.submitted (one write)
 *        │               ─► alerts raises `low_rating` for a rating ≤ 2
 *        └─► totals per supplier and per courier (kind `stats`): a compare-and-set on the count
 *            read, with rating.updated in the same write ─► products shows suppliers' on the catalog
 *
 * A review is added to the totals once: it is marked `counted` first (compare-and-set), then each
 * subject's totals move. The service's own consumer of review.submitted finishes a review whose
 * counting a crash interrupted (marked counted before the totals moved would lose one rating:
 * `reviews.recount` rebuilds a subject's totals from its reviews).
 */
import { Context, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { Ctx, Page } from "../lib/contracts/common";
import { REVIEW_PARAMS } from "../lib/contracts/reviews";
import type {
	PublicReview,
	RatingStats,
	RatingSummary,
	Review,
	SubmitReviewParams,
	SupplierReviewsParams,
} from "../lib/contracts/reviews";
import * as rules from "../lib/domain/reviews";
import type { RatedKind } from "../lib/domain/reviews";
import { clientError, forbidden, isConflict, notFound } from "../lib/infra/errors";
import { nowIso } from "../lib/infra/ids";
import { orderParties } from "../lib/infra/order-parties";
import { Collection, UniqueViolationError } from "../lib/infra/store/types";

interface OwnMethods {
	stats(): Collection<RatingStats>;
	orderFacts(ctx: Context, orderId: string): Promise<rules.RatedOrder | null>;
	countReview(ctx: Context | null, review: Review): Promise<void>;
	addRating(ctx: Context | null, kind: RatedKind, subjectId: string, rating: number): Promise<void>;
	summary(kind: RatedKind, subjectId: string): Promise<RatingSummary>;
	reviewView(review: Review): Omit<Review, "_id" | "counted"> & { id: string };
}
type ThisService = Service<{ rest: string }> & DbMethods<Review> & EventsMethods & OwnMethods;

const EMPTY_HISTOGRAM = [0, 0, 0, 0, 0];

const summaryOf = (s: RatingStats | null): RatingSummary =>
	s
		? { average: rules.averageRating(s.sum, s.count), count: s.count, histogram: s.histogram }
		: { average: null, count: 0, histogram: [...EMPTY_HISTOGRAM] };

const ReviewsService: ServiceSchema<{ rest: string }, ThisService> = {
	name: "reviews",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		EventsMixin,
		DbMixin<Review>({
			collection: "reviews",
			indexes: [
				{ fields: { supplierId: 1, createdAt: -1 } },
				{ fields: { courierId: 1, createdAt: -1 } },
				{ fields: { counted: 1 } },
			],
			kinds: { stats: {} },
		}),
	],
	settings: { rest: "/" },

	actions: {
		submit: {
			rest: "POST /reviews",
			auth: { roles: ["customer"] },
			params: REVIEW_PARAMS.submit,
			async handler(this: ThisService, ctx: Ctx<SubmitReviewParams>) {
				const p = ctx.params;
				const me = ctx.meta.user!;
				const order = await this.orderFacts(ctx, p.orderId);
				const problem = rules.reviewProblem(order, me, p);
				if (problem)
					throw clientError(problem.type, problem.message, {
						orderId: p.orderId,
						...(problem.field ? { fields: [problem.field] } : {}),
					});
				const review: Review = {
					_id: p.orderId,
					orderId: p.orderId,
					customerId: me.id,
					supplierId: order!.supplierId!,
					courierId: order!.courierId,
					supplierRating: p.supplierRating,
					courierRating: p.courierRating ?? null,
					comment: p.comment ? p.comment : null,
					counted: false,
					createdAt: nowIso(),
				};
				const event = {
					type: "review.submitted" as const,
					data: {
						orderId: review.orderId,
						customerId: review.customerId,
						supplierId: review.supplierId,
						courierId: review.courierId,
						supplierRating: review.supplierRating,
						courierRating: review.courierRating,
						hasComment: review.comment !== null,
						low: rules.isLowRating(review),
					},
				};
				try {
					await this.insertEntity(ctx, review, [event]);
				} catch (err) {
					if (isConflict(err)) throw clientError("ALREADY_RATED", "This order is already rated");
					throw err;
				}
				await this.countReview(ctx, review);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/reviews/orders/${review.orderId}`;
				return this.reviewView(review);
			},
		},

		/** The review of an order (its customer, the supplier, the courier, admins), 404 when not rated yet. */
		forOrder: {
			rest: "GET /reviews/orders/:orderId",
			params: REVIEW_PARAMS.forOrder,
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>) {
				const me = ctx.meta.user!;
				const review = await this.findEntity(ctx.params.orderId);
				if (!review) {
					// Tell the order's customer "not rated yet" apart from "not yours".
					const order = await this.orderFacts(ctx, ctx.params.orderId);
					if (order && me.role !== "admin" && order.customerId !== me.id && order.supplierId !== me.id)
						throw forbidden("This is not your order");
					throw notFound("review", ctx.params.orderId);
				}
				const parties = [review.customerId, review.supplierId, review.courierId];
				if (me.role !== "admin" && !parties.includes(me.id)) throw forbidden("This is not your order");
				return this.reviewView(review);
			},
		},

		/** A supplier's reviews page: the summary and the reviews, newest first (public). */
		supplierReviews: {
			rest: "GET /suppliers/:supplierId/reviews",
			auth: "public",
			params: REVIEW_PARAMS.supplierReviews,
			async handler(
				this: ThisService,
				ctx: Ctx<SupplierReviewsParams>,
			): Promise<Page<PublicReview> & { supplierId: string; summary: RatingSummary }> {
				const { supplierId, page, pageSize } = ctx.params;
				const [found, summary] = await Promise.all([
					this.paginate({ supplierId }, { page, pageSize, sort: ["-createdAt"], withTotal: true }),
					this.summary("supplier", supplierId),
				]);
				const rows = found.rows.map((r) => ({
					orderId: r.orderId,
					rating: r.supplierRating,
					comment: r.comment,
					createdAt: r.createdAt,
				}));
				return { ...found, rows, supplierId, summary };
			},
		},

		/** A courier's rating: the courier themselves, their supplier's staff see it through admins for now. */
		courierRating: {
			rest: "GET /couriers/:courierId/rating",
			auth: { roles: ["courier", "admin"] },
			params: REVIEW_PARAMS.courierRating,
			async handler(this: ThisService, ctx: Ctx<{ courierId: string }>) {
				const me = ctx.meta.user!;
				if (me.role !== "admin" && me.id !== ctx.params.courierId) throw forbidden("You can only see your own rating");
				return { courierId: ctx.params.courierId, summary: await this.summary("courier", ctx.params.courierId) };
			},
		},

		/** Internal: summaries of many suppliers or couriers (id → summary; absent ids have none). */
		stats: {
			visibility: "public",
			params: REVIEW_PARAMS.stats,
			async handler(this: ThisService, ctx: Ctx<{ kind: RatedKind; ids: string[] }>) {
				const { kind, ids } = ctx.params;
				const out: Record<string, RatingSummary> = {};
				for (const id of ids) out[id] = await this.summary(kind, id);
				return out;
			},
		},

		/** Internal (operators): rebuild a subject's totals from its reviews, with rating.updated. */
		recount: {
			visibility: "public",
			params: REVIEW_PARAMS.recount,
			async handler(this: ThisService, ctx: Ctx<{ kind: RatedKind; subjectId: string }>) {
				const { kind, subjectId } = ctx.params;
				const field = kind === "supplier" ? "supplierId" : "courierId";
				const reviews = await this.findEntities({ query: { [field]: subjectId } });
				const histogram = [...EMPTY_HISTOGRAM];
				let sum = 0;
				for (const r of reviews) {
					const rating = kind === "supplier" ? r.supplierRating : r.courierRating;
					if (rating === null) continue;
					histogram[rating - 1]++;
					sum += rating;
				}
				const count = histogram.reduce((a, b) => a + b, 0);
				const doc: RatingStats = {
					_id: rules.statsKey(kind, subjectId),
					kind,
					subjectId,
					count,
					sum,
					histogram,
					updatedAt: nowIso(),
				};
				const events = this.envelopes(ctx, [
					{ type: "rating.updated", data: { kind, subjectId, average: rules.averageRating(sum, count), count } },
				]);
				const { _id, ...fields } = doc;
				if (!(await this.stats().updateOne({ _id }, { $set: fields }, events))) await this.stats().insert(doc, events);
				await this.flushOutbox();
				return summaryOf(doc);
			},
		},
	},

	businessEvents: {
		/** Finishes counting a review whose submit was interrupted (a no-op when it was counted). */
		async "review.submitted"(envelope, ctx) {
			const review = await this.findEntity(envelope.data.orderId);
			if (review && !review.counted) await this.countReview(ctx, review);
		},
	} satisfies BusinessEventHandlers<ThisService>,

	methods: {
		stats(this: ThisService) {
			return this.kind<RatingStats>("stats");
		},

		orderFacts(this: ThisService, ctx: Context, orderId: string) {
			return orderParties(ctx, orderId, "reviews");
		},

		async countReview(this: ThisService, ctx: Context | null, review: Review) {
			const claimed = await this.compareAndSet(ctx, { _id: review._id, counted: false }, { $set: { counted: true } });
			if (!claimed) return;
			await this.addRating(ctx, "supplier", review.supplierId, review.supplierRating);
			if (review.courierId && review.courierRating !== null)
				await this.addRating(ctx, "courier", review.courierId, review.courierRating);
		},

		/** One rating added to a subject's totals: compare-and-set on the count read, rating.updated in the same write. */
		async addRating(this: ThisService, ctx: Context | null, kind: RatedKind, subjectId: string, rating: number) {
			const _id = rules.statsKey(kind, subjectId);
			for (;;) {
				const held = await this.stats().findById(_id);
				const count = (held?.count ?? 0) + 1;
				const sum = (held?.sum ?? 0) + rating;
				const histogram = [...(held?.histogram ?? EMPTY_HISTOGRAM)];
				histogram[rating - 1]++;
				const events = this.envelopes(ctx, [
					{ type: "rating.updated", data: { kind, subjectId, average: rules.averageRating(sum, count), count } },
				]);
				const fields = { kind, subjectId, count, sum, histogram, updatedAt: nowIso() };
				if (held) {
					if (await this.stats().updateOne({ _id, count: held.count }, { $set: fields }, events)) break;
				} else {
					try {
						await this.stats().insert({ _id, ...fields }, events);
						break;
					} catch (err) {
						if (!(err instanceof UniqueViolationError) && !isConflict(err)) throw err;
					}
				}
			}
			await this.flushOutbox();
		},

		async summary(this: ThisService, kind: RatedKind, subjectId: string) {
			return summaryOf(await this.stats().findById(rules.statsKey(kind, subjectId)));
		},

		reviewView(this: ThisService, review: Review) {
			return this.toPublic(review, ["counted"]);
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,
};

export = ReviewsService;
