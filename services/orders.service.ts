/**
 * Orders: a customer orders cylinders from a supplier; the order runs as a saga.
 *
 *   POST /api/orders ──► products.reserveStock (sync: the last cylinder is decided here, 409 if gone)
 *        │               order stored `created` (a card token kept on it, hidden), order.created published
 *        │               (no token in the event: hasPaymentToken; payments takes it with orders.takePaymentToken)
 *        ▼
 *   payments charges ──► payment.processed (captured / authorized) ──► `confirmed`, order.confirmed
 *                   └──► payment.failed ──► `cancelled`, stock released, order.cancelled
 *   cancelled after payment ──► order.cancelled { wasPaid } ──► payments refunds
 *   courier.assigned ──► courierId recorded; courier: in_transit, then delivered with the handover code
 *
 * Every status change goes through lib/order-status (who may do what) and a compare-and-set on the
 * current status, and appends { status, at, by, role, reason } to the history. The side effects of
 * a status (stock, the event) are idempotent: a redelivered event or a retried handler finds the
 * status already reached and only finishes what was not done (`sent.<status>` marks the event).
 *
 * The payment token (a provider token; for the simulated provider a test card number) waits on the
 * order, hidden, until payments takes it with a direct call (orders.takePaymentToken) when it
 * charges; it is never put in any event: events are durable and seen by every consumer.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import crypto from "crypto";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { EventEnvelope } from "../lib/domain/events";
import { newId, nowIso, numericCode } from "../lib/infra/ids";
import {
	Actor,
	checkTransition,
	HANDOVER_CODE_DIGITS,
	historyEntry,
	MAX_HANDOVER_FAILURES,
	ORDER_STATUSES,
	OrderStatus,
	promisedBy,
	scheduledSlotProblem,
	timestampField,
} from "../lib/domain/order-status";
import { cylinderCount, orderLines, orderTotals } from "../lib/domain/pricing";
import { config } from "../lib/infra/config";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

const SYSTEM: Actor = { id: "system", role: "system" };
const ALWAYS_HIDDEN = ["kind", "idempotencyKey", "requestHash", "sent", "hasPaymentToken", "stagedPaymentToken"];
/** Payment states in the order they may follow each other (a late "pending" never overwrites "captured"). */
const PAYMENT_RANK: Record<string, number> = {
	none: 0,
	pending: 1,
	failed: 1,
	authorized: 2,
	captured: 3,
	refunded: 4,
};

const id = { type: "string", min: 1, max: 64 };
const isoTime = {
	type: "string",
	max: 40,
	pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/,
};
/** Clients may echo what their cart showed; the server computes every amount itself and ignores these. */
const ignoredCents = { type: "number", optional: true };

const OrdersService: ServiceSchema = {
	name: "orders",
	mixins: [
		DbMixin({
			collection: "orders",
			indexes: [
				{ fields: { customerId: 1 } },
				{ fields: { supplierId: 1 } },
				{ fields: { courierId: 1 } },
				{ fields: { status: 1 } },
				{ fields: { idempotencyKey: 1 }, unique: true, sparse: true },
			],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /orders",
			auth: { roles: ["customer"] },
			params: {
				supplierId: id,
				items: {
					type: "array",
					min: 1,
					max: 20,
					items: {
						type: "object",
						strict: true,
						props: {
							productId: id,
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
						city: { type: "string", max: 100, optional: true },
						notes: { type: "string", max: 300, optional: true },
						lat: { type: "number", min: -90, max: 90 },
						lng: { type: "number", min: -180, max: 180 },
					},
				},
				paymentMethod: { type: "enum", values: ["card", "pix", "cash"] },
				paymentToken: { type: "string", min: 1, max: 200, optional: true },
				scheduledSlot: { type: "object", strict: true, optional: true, props: { from: isoTime, to: isoTime } },
				totalCents: ignoredCents,
				itemsCents: ignoredCents,
				depositsCents: ignoredCents,
				deliveryFeeCents: ignoredCents,
			},
			async handler(this: any, ctx: Ctx) {
				this.checkOrderRequest(ctx.params);
				const key = ctx.meta.idempotencyKey ? `${ctx.meta.user!.id}:${ctx.meta.idempotencyKey}` : undefined;
				const hash = this.requestHash(ctx.params);
				const earlier = key ? await this.orderForKey(key, hash) : null;
				if (earlier) return this.replay(ctx, earlier);
				const { order, replayed } = await this.placeOrder(ctx, key, hash);
				if (replayed) return this.replay(ctx, order);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${order._id}`;
				return this.orderView(order, ctx.meta.user!);
			},
		},

		list: {
			rest: "GET /orders",
			params: {
				status: { type: "enum", values: ORDER_STATUSES, optional: true },
				from: { ...isoTime, optional: true },
				to: { ...isoTime, optional: true },
				supplierId: { ...id, optional: true },
				customerId: { ...id, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize } = ctx.params;
				// The pattern lets through impossible dates (2024-99-99T99:99Z): check they are real.
				const invalid = ["from", "to"].filter((f) => ctx.params[f] && !Number.isFinite(Date.parse(ctx.params[f])));
				if (invalid.length) throw unprocessable(`Not a valid date: ${invalid.join(", ")}`, { fields: invalid });
				const query = this.listQuery(ctx.meta.user!, ctx.params);
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((o: Doc) => this.orderView(o, ctx.meta.user!)), total, page, pageSize };
			},
		},

		get: {
			rest: "GET /orders/:id",
			params: { id },
			async handler(this: any, ctx: Ctx) {
				const order = await this.visibleOrderOr404(ctx, ctx.params.id);
				return { ...this.orderView(order, ctx.meta.user!), courier: await this.courierPosition(ctx, order) };
			},
		},

		updateStatus: {
			rest: "PUT /orders/:id/status",
			params: {
				id,
				status: { type: "enum", values: ["confirmed", "in_transit", "delivered", "cancelled"] },
				reason: { type: "string", min: 1, max: 500, trim: true, optional: true },
				handoverCode: { type: "string", pattern: /^\d{4,8}$/, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const me = ctx.meta.user!;
				let order = await this.visibleOrderOr404(ctx, ctx.params.id);
				const actor: Actor = { id: me.id, role: me.role };
				if (this.mayFinishSideEffects(order, ctx.params.status, actor)) {
					// The status changed but its side effects failed (a retry after an error): finish them.
					await this.afterTransition(ctx, order);
					return this.orderView(await this.findEntity(order._id), me);
				}
				const problem = checkTransition(order, ctx.params.status, actor, ctx.params);
				const codeTried = problem ? problem.type === "WRONG_HANDOVER_CODE" : this.isCourierHandover(ctx.params, actor);
				if (problem && !codeTried) throw this.transitionError(problem, order);
				if (codeTried) {
					// Each code a courier tries uses up one of the order's attempts, atomically, before it is
					// judged: concurrent guesses cannot get past the limit. A right code gives its attempt back.
					order = await this.claimHandoverAttempt(ctx, order, actor);
					if (problem)
						throw new Errors.MoleculerClientError(problem.message, problem.code, problem.type, {
							status: order.status,
							attemptsLeft: Math.max(0, MAX_HANDOVER_FAILURES - order.handoverFailures),
						});
				}
				const updated = await this.transition(ctx, order, ctx.params.status, actor, {
					reason: ctx.params.reason,
					...(codeTried ? { inc: { handoverFailures: -1 } } : {}),
				});
				if (!updated) throw conflict("The order changed meanwhile; reload it", { type: "INVALID_TRANSITION" });
				return this.orderView(updated, me);
			},
		},

		/** Internal: the state of some orders, for payments' reconciliation and payment retries. */
		/**
		 * Internal (payments, when it charges an order): hands over the order's payment token once
		 * and forgets it. The token waits here, not in an event, so an order placed while payments is
		 * down is still charged when payments comes back (order.created is durable).
		 */
		takePaymentToken: {
			visibility: "public",
			params: { orderId: id },
			async handler(this: any, ctx: Ctx) {
				const order = await this.findEntity(ctx.params.orderId);
				const token = order && order.stagedPaymentToken;
				if (!token) return { paymentToken: null };
				const taken = await this.compareAndSet(
					ctx,
					{ _id: order._id, stagedPaymentToken: token },
					{ $unset: { stagedPaymentToken: 1 } },
				);
				return { paymentToken: taken ? token : null };
			},
		},

		statusesFor: {
			visibility: "public",
			params: { orderIds: { type: "array", min: 1, max: 1000, items: id } },
			async handler(this: any, ctx: Ctx) {
				const orders = await this.findEntities({ query: { _id: { $in: ctx.params.orderIds }, kind: "order" } });
				return orders.map((o: Doc) => ({
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
				}));
			},
		},

		/** Internal: ids of orders changed since a time (reconciliation looks at these). */
		changedSince: {
			visibility: "public",
			params: { since: isoTime, limit: { type: "number", integer: true, min: 1, max: 5000, default: 1000 } },
			async handler(this: any, ctx: Ctx) {
				const orders = await this.findEntities({
					query: { kind: "order", updatedAt: { $gte: ctx.params.since } },
					sort: ["updatedAt"],
					limit: ctx.params.limit,
				});
				return orders.map((o: Doc) => o._id);
			},
		},
	} as any,

	businessEvents: {
		async "payment.processed"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { orderId, paymentId, status } = envelope.data;
			await this.recordPayment(ctx, orderId, paymentId, status);
			if (status === "captured" || status === "authorized") await this.moveBySaga(ctx, orderId, "confirmed");
		},
		async "payment.failed"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { orderId, paymentId, reason } = envelope.data;
			await this.recordPayment(ctx, orderId, paymentId, "failed");
			if (await this.awaitsPaymentRetry(ctx, orderId, reason)) return;
			await this.moveBySaga(ctx, orderId, "cancelled", `payment_failed: ${reason || "unknown"}`);
		},
		async "refund.processed"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { orderId, refundId, amountCents, fullyRefunded } = envelope.data;
			if (typeof refundId !== "string" || !/^[\w-]{1,64}$/.test(refundId)) {
				this.logger.warn({ requestId: ctx.requestID, orderId }, "refund.processed without a usable refundId ignored");
				return;
			}
			// Counted once per refund, whatever the envelope: the refund id is recorded in the same update.
			// (A map, not an array with $ne: NeDB's $ne on an array matches when any other element differs.)
			await this.compareAndSet(
				ctx,
				{ _id: orderId, kind: "order", [`refunds.${refundId}`]: { $exists: false } },
				{
					$inc: { refundedCents: amountCents || 0 },
					$set: {
						[`refunds.${refundId}`]: amountCents || 0,
						updatedAt: nowIso(),
						...(fullyRefunded ? { paymentStatus: "refunded" } : {}),
					},
				},
			);
		},
		async "courier.assigned"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.assignCourier(ctx, envelope.data);
		},
		// Local read model: who the customers are, so order views can name them (customerName).
		// (Products and prices come from products.reserveStock when the order is placed.)
		async "user.created"(this: any, envelope: EventEnvelope) {
			const { userId, name, role } = envelope.data;
			if (role === "customer") await this.upsertReadModel(`user:${userId}`, { kind: "user", userId, name, role });
		},
	},

	methods: {
		checkOrderRequest(params: Doc) {
			const ids = params.items.map((i: Doc) => i.productId);
			if (new Set(ids).size !== ids.length)
				throw unprocessable("List each product once, with its quantity", { fields: ["items"] });
			if (params.paymentMethod === "card" && !params.paymentToken)
				throw unprocessable("A card payment needs a paymentToken", { fields: ["paymentToken"] });
			if (params.scheduledSlot) {
				const problem = scheduledSlotProblem(params.scheduledSlot, new Date());
				if (problem) throw unprocessable(problem, { fields: ["scheduledSlot"] });
			}
		},

		/** What makes two requests "the same" for an Idempotency-Key (the token is left out: it may be re-issued). */
		requestHash(params: Doc): string {
			const { paymentToken: _t, ...rest } = params;
			return crypto.createHash("sha256").update(JSON.stringify(rest)).digest("hex");
		},

		/** The order an earlier request with this Idempotency-Key created (422 if that request was different). */
		async orderForKey(this: any, key: string, hash: string): Promise<Doc | null> {
			const existing = await this.findOneEntity({ idempotencyKey: key });
			if (existing && existing.requestHash !== hash)
				throw new Errors.MoleculerClientError(
					"This Idempotency-Key was used for a different order",
					422,
					"IDEMPOTENCY_KEY_REUSED",
				);
			return existing;
		},

		/**
		 * The answer to a retried POST: the order its key created. If publishing order.created failed
		 * after the order was stored (sent.created still false), publish it now (at least once: a retry
		 * racing the first request may publish it twice; consumers are idempotent by orderId).
		 */
		async replay(this: any, ctx: Ctx, order: Doc) {
			if (order.sent && order.sent.created === false) await this.publishCreated(ctx, order);
			ctx.meta.$statusCode = 200;
			ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
			return this.orderView(order, ctx.meta.user!);
		},

		/** Reserve stock (authoritative prices come back with it), store the order, start the saga. */
		async placeOrder(
			this: any,
			ctx: Ctx,
			key: string | undefined,
			hash: string,
		): Promise<{ order: Doc; replayed: boolean }> {
			const p = ctx.params;
			const orderId = newId();
			const deliveryLocation = { lat: p.deliveryAddress.lat, lng: p.deliveryAddress.lng };
			const reservation: Doc = await ctx.call("products.reserveStock", {
				orderId,
				supplierId: p.supplierId,
				items: p.items.map((i: Doc) => ({ productId: i.productId, quantity: i.quantity })),
				deliverTo: deliveryLocation,
				...(p.scheduledSlot ? { deliverAt: p.scheduledSlot.from } : {}),
			});
			const doc = this.newOrder(ctx, orderId, reservation, deliveryLocation, key, hash);
			let order: Doc;
			try {
				doc.customerName = await this.customerName(doc.customerId);
				order = await this.insertEntity(ctx, doc);
			} catch (err: any) {
				await ctx.call("products.releaseStock", { orderId }).catch((e: Error) => this.logger.error(e.message));
				// Two retries with one key raced: the other one stored the order; answer with it.
				const winner = key && err && err.code === 409 ? await this.orderForKey(key, hash) : null;
				if (winner) return { order: winner, replayed: true };
				throw err;
			}
			await this.publishCreated(ctx, order);
			return { order, replayed: false };
		},

		/** order.created, then `sent.created` (a replayed POST publishes it if this failed). */
		async publishCreated(this: any, ctx: Ctx, order: Doc) {
			await this.publishEvent("order.created", this.createdEventData(order), ctx);
			await this.compareAndSet(ctx, { _id: order._id }, { $set: { "sent.created": true } });
		},

		newOrder(
			ctx: Ctx,
			orderId: string,
			reservation: Doc,
			deliveryLocation: Doc,
			key: string | undefined,
			hash: string,
		) {
			const p = ctx.params;
			const me = ctx.meta.user!;
			const lines = orderLines(reservation.products, p.items);
			const totals = orderTotals(lines, reservation.distanceKm);
			const now = nowIso();
			const { lat: _lat, lng: _lng, ...addressText } = p.deliveryAddress;
			return {
				_id: orderId,
				kind: "order",
				customerId: me.id,
				supplierId: p.supplierId,
				supplierName: reservation.supplier.name,
				items: lines,
				totals,
				totalCents: totals.totalCents,
				distanceKm: Math.round(reservation.distanceKm * 100) / 100,
				deliveryAddress: addressText,
				deliveryLocation,
				supplierLocation: reservation.supplier.location,
				paymentMethod: p.paymentMethod,
				paymentStatus: "none",
				paymentId: null,
				scheduledSlot: p.scheduledSlot || null,
				status: "created",
				history: [historyEntry("created", { id: me.id, role: me.role }, now)],
				handoverCode: numericCode(HANDOVER_CODE_DIGITS),
				handoverFailures: 0,
				courierId: null,
				refundedCents: 0,
				...(key ? { idempotencyKey: key } : {}),
				requestHash: hash,
				hasPaymentToken: !!p.paymentToken,
				// Kept only until payments takes it (orders.takePaymentToken); never shown, never in an event.
				...(p.paymentToken ? { stagedPaymentToken: p.paymentToken } : {}),
				// created: false until order.created is out (orders stored before this field have sent: {}).
				sent: { created: false },
				createdAt: now,
				updatedAt: now,
			};
		},

		/**
		 * The order is already in `status` but its side effects (stock, the event; sent.<status> is set
		 * last) were not all done, and `actor` made that move (or is an admin): a retry finishes them.
		 */
		mayFinishSideEffects(order: Doc, status: OrderStatus, actor: Actor): boolean {
			if (order.status !== status || (order.sent && order.sent[status])) return false;
			if (actor.role === "admin") return true;
			const entry = [...(order.history || [])].reverse().find((h: Doc) => h.status === status);
			return !!entry && entry.by === actor.id;
		},

		isCourierHandover(params: Doc, actor: Actor): boolean {
			return params.status === "delivered" && actor.role === "courier" && !!params.handoverCode;
		},

		transitionError(problem: Doc, order: Doc) {
			return new Errors.MoleculerClientError(problem.message, problem.code, problem.type, { status: order.status });
		},

		/** One handover attempt, counted on the order (compare-and-set); 423 HANDOVER_LOCKED when none is left. */
		async claimHandoverAttempt(this: any, ctx: Ctx, order: Doc, actor: Actor): Promise<Doc> {
			const claimed = await this.compareAndSet(
				ctx,
				{
					_id: order._id,
					status: "in_transit",
					courierId: actor.id,
					$or: [{ handoverFailures: { $exists: false } }, { handoverFailures: { $lt: MAX_HANDOVER_FAILURES } }],
				},
				{ $inc: { handoverFailures: 1 } },
			);
			if (claimed) return claimed;
			const current = await this.visibleOrderOr404(ctx, order._id);
			const problem = checkTransition(current, "delivered", actor, { handoverCode: current.handoverCode });
			throw this.transitionError(
				problem || { message: "The order changed meanwhile; reload it", code: 409, type: "INVALID_TRANSITION" },
				current,
			);
		},

		createdEventData(order: Doc) {
			return {
				orderId: order._id,
				customerId: order.customerId,
				supplierId: order.supplierId,
				totalCents: order.totalCents,
				paymentMethod: order.paymentMethod,
				items: order.items.map((l: Doc) => ({
					productId: l.productId,
					type: l.type,
					quantity: l.quantity,
					exchange: l.exchange,
				})),
				deliveryLocation: order.deliveryLocation,
				scheduledSlot: order.scheduledSlot,
				// Whether payments holds a staged token for it; the token itself never goes in an event.
				hasPaymentToken: !!order.hasPaymentToken,
			};
		},

		/**
		 * Moves an order from the status it was read in to `to` (compare-and-set), appends the history
		 * entry and runs the status's side effects. null when the order changed meanwhile.
		 */
		async transition(
			this: any,
			ctx: Ctx,
			order: Doc,
			to: OrderStatus,
			actor: Actor,
			extra: { reason?: string; inc?: Record<string, number> } = {},
		) {
			const now = nowIso();
			const set: Doc = { status: to, [timestampField(to)]: now, updatedAt: now };
			if (to === "confirmed") set.promisedBy = promisedBy(now, order.scheduledSlot, this.settings.promiseMinutes);
			if (to === "cancelled") {
				set.cancelReason = extra.reason || null;
				set.cancelledBy = actor.id;
				set.wasPaid = order.paymentStatus === "captured";
			}
			const updated = await this.compareAndSet(
				ctx,
				{ _id: order._id, status: order.status },
				{
					$set: set,
					$push: { history: historyEntry(to, actor, now, { reason: extra.reason }) },
					...(extra.inc ? { $inc: extra.inc } : {}),
				},
			);
			if (updated) await this.afterTransition(ctx, updated);
			return updated;
		},

		/** The side effects of reaching a status; each idempotent, so a retry finishes what a crash left. */
		async afterTransition(this: any, ctx: Ctx, order: Doc) {
			if (order.status === "cancelled") await ctx.call("products.releaseStock", { orderId: order._id });
			if (order.status === "delivered") await ctx.call("products.commitStock", { orderId: order._id });
			await this.publishOnce(ctx, order);
		},

		async publishOnce(this: any, ctx: Ctx, order: Doc) {
			const status: OrderStatus = order.status;
			if (status === "created" || (order.sent && order.sent[status])) return;
			await this.publishEvent(`order.${status}`, this.statusEventData(order), ctx);
			await this.compareAndSet(ctx, { _id: order._id }, { $set: { [`sent.${status}`]: true } });
		},

		statusEventData(order: Doc) {
			const base = {
				orderId: order._id,
				customerId: order.customerId,
				supplierId: order.supplierId,
				courierId: order.courierId || null,
				totalCents: order.totalCents,
				paymentMethod: order.paymentMethod,
			};
			switch (order.status as OrderStatus) {
				case "confirmed":
					return {
						...base,
						cylinders: cylinderCount(order.items),
						deliveryLocation: order.deliveryLocation,
						supplierLocation: order.supplierLocation,
						confirmedAt: order.confirmedAt,
						promisedBy: order.promisedBy,
					};
				case "delivered":
					return {
						...base,
						confirmedAt: order.confirmedAt,
						deliveredAt: order.deliveredAt,
						promisedBy: order.promisedBy,
					};
				case "cancelled":
					return { ...base, reason: order.cancelReason, cancelledBy: order.cancelledBy, wasPaid: !!order.wasPaid };
				default:
					return { ...base, inTransitAt: order.inTransitAt };
			}
		},

		/** A saga step: move the order if it is still where the step expects it; finish side effects if already there. */
		async moveBySaga(this: any, ctx: Ctx, orderId: string, to: OrderStatus, reason?: string): Promise<void> {
			const order = await this.findEntity(orderId);
			if (!order || order.kind !== "order") {
				this.logger.warn({ requestId: ctx.requestID, orderId }, `Saga step for an unknown order (${to})`);
				return;
			}
			if (order.status === to) return this.afterTransition(ctx, order);
			// Payment outcomes only move orders still waiting for them; e.g. a customer already cancelled it.
			if (order.status !== "created") return;
			const updated = await this.transition(ctx, order, to, SYSTEM, { reason });
			if (!updated) return this.moveBySaga(ctx, orderId, to, reason);
		},

		/**
		 * With PAYMENT_RETRY_GRACE_MS > 0 a failed payment leaves the order `created` for that long (the
		 * window starts at the first failure and never grows), so the customer can pay again
		 * (POST /api/payments); cancelUnpaidOrders cancels it when the window closes.
		 */
		async awaitsPaymentRetry(this: any, ctx: Ctx, orderId: string, reason: string): Promise<boolean> {
			const grace = this.settings.paymentRetryGraceMs;
			if (!(grace > 0)) return false;
			await this.compareAndSet(
				ctx,
				{ _id: orderId, kind: "order", status: "created", paymentRetryUntil: { $exists: false } },
				{
					$set: { paymentRetryUntil: new Date(Date.now() + grace).toISOString(), paymentFailure: reason || "unknown" },
				},
			);
			const order = await this.findEntity(orderId);
			return !!order && order.status === "created" && Date.parse(order.paymentRetryUntil) > Date.now();
		},

		/** Cancels orders whose payment failed and whose retry window has closed. */
		async cancelUnpaidOrders(this: any) {
			const due = await this.findEntities({
				query: { kind: "order", status: "created", paymentStatus: "failed", paymentRetryUntil: { $lte: nowIso() } },
				limit: 100,
			});
			for (const order of due) {
				const ctx = Context.create(this.broker, null as any, {}, {}) as Ctx;
				await this.moveBySaga(ctx, order._id, "cancelled", `payment_failed: ${order.paymentFailure || "unknown"}`);
			}
			return due.length;
		},

		/** Records the latest payment state on the order, never going back (a late "pending" after "captured"). */
		async recordPayment(this: any, ctx: Ctx, orderId: string, paymentId: string, status: string) {
			const lower = Object.keys(PAYMENT_RANK).filter((s) => PAYMENT_RANK[s] < (PAYMENT_RANK[status] ?? 0));
			if (status === "failed") lower.push("pending");
			await this.compareAndSet(
				ctx,
				{ _id: orderId, paymentStatus: { $in: lower } },
				{ $set: { paymentStatus: status, paymentId, updatedAt: nowIso() } },
			);
		},

		async assignCourier(this: any, ctx: Ctx, data: Doc) {
			const { orderId, courierId, etaMinutes } = data;
			const now = nowIso();
			const order = await this.findEntity(orderId);
			if (!order || order.kind !== "order" || order.courierId === courierId) return;
			const entry = { ...historyEntry(order.status, SYSTEM, now, { note: "courier assigned" }), courierId };
			const updated = await this.compareAndSet(
				ctx,
				{ _id: orderId, courierId: order.courierId, status: { $in: ["created", "confirmed"] } },
				{
					$set: { courierId, assignedAt: now, etaMinutes: etaMinutes ?? null, updatedAt: now },
					$push: { history: entry },
				},
			);
			if (updated) return;
			const current = await this.findEntity(orderId);
			if (current && current.courierId !== courierId)
				this.logger.warn({ requestId: ctx.requestID, orderId }, `courier.assigned ignored: order is ${current.status}`);
		},

		async upsertReadModel(this: any, docId: string, fields: Doc) {
			const set = { ...fields, updatedAt: nowIso() };
			if (await this.compareAndSet(null, { _id: docId }, { $set: set })) return;
			try {
				await this.insertEntity(null, { _id: docId, ...set });
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
				await this.compareAndSet(null, { _id: docId }, { $set: set });
			}
		},

		async customerName(this: any, customerId: string): Promise<string | null> {
			const customer = await this.findEntity(`user:${customerId}`);
			return customer ? customer.name : null;
		},

		listQuery(me: AuthUser, p: Doc): Doc {
			const query: Doc = { kind: "order" };
			if (me.role === "customer") query.customerId = me.id;
			else if (me.role === "supplier") query.supplierId = me.id;
			else if (me.role === "courier") query.courierId = me.id;
			if (me.role === "admin" || me.role === "courier") {
				if (p.supplierId) query.supplierId = p.supplierId;
			}
			if (me.role === "admin" || me.role === "supplier") {
				if (p.customerId) query.customerId = p.customerId;
			}
			if (p.status) query.status = p.status;
			if (p.from || p.to) {
				query.createdAt = {};
				if (p.from) query.createdAt.$gte = new Date(p.from).toISOString();
				if (p.to) query.createdAt.$lte = new Date(p.to).toISOString();
			}
			return query;
		},

		isParty(order: Doc, me: AuthUser): boolean {
			if (me.role === "admin") return true;
			if (me.role === "customer") return order.customerId === me.id;
			if (me.role === "supplier") return order.supplierId === me.id;
			if (me.role === "courier") return !!order.courierId && order.courierId === me.id;
			return false;
		},

		async visibleOrderOr404(this: any, ctx: Ctx, orderId: string): Promise<Doc> {
			const order = await this.findEntity(orderId);
			if (!order || order.kind !== "order") throw notFound("order", orderId);
			if (!this.isParty(order, ctx.meta.user!)) throw forbidden("This is not your order");
			return order;
		},

		/** The handover code is for the customer to give the courier: only they (and admins) see it. */
		orderView(this: any, order: Doc, me: AuthUser): Doc {
			const hidden = [...ALWAYS_HIDDEN];
			if (!(me.role === "admin" || (me.role === "customer" && order.customerId === me.id))) hidden.push("handoverCode");
			return this.toPublic(order, hidden);
		},

		/** Live courier position and ETA, when a courier is on it; null if couriers is absent or slow. */
		async courierPosition(this: any, ctx: Ctx, order: Doc) {
			if (!order.courierId || !["confirmed", "in_transit"].includes(order.status)) return null;
			if (!this.broker.registry.hasService("couriers")) return null;
			try {
				return await ctx.call(
					"couriers.eta",
					{
						courierId: order.courierId,
						to: order.deliveryLocation,
						// Not picked up yet: the courier goes by the supplier first.
						...(order.status === "confirmed" && order.supplierLocation ? { via: order.supplierLocation } : {}),
					},
					{ timeout: this.settings.etaTimeoutMs, retries: 0 },
				);
			} catch (err: any) {
				this.logger.warn({ requestId: ctx.requestID, orderId: order._id }, `couriers.eta unavailable: ${err.message}`);
				return null;
			}
		},
	},

	created(this: any) {
		this.settings.promiseMinutes = config().orderPromiseMinutes;
		this.settings.etaTimeoutMs = config().orderEtaTimeoutMs;
		this.settings.paymentRetryGraceMs = config().payments.retryGraceMs;
	},

	started(this: any) {
		const grace = this.settings.paymentRetryGraceMs;
		if (!(grace > 0)) return;
		this.unpaidSweeper = setInterval(
			() =>
				this.cancelUnpaidOrders().catch((err: Error) => this.logger.warn(`Unpaid-order sweep failed: ${err.message}`)),
			Math.max(50, Math.min(grace / 2, 30_000)),
		);
		this.unpaidSweeper.unref?.();
	},

	stopped(this: any) {
		if (this.unpaidSweeper) clearInterval(this.unpaidSweeper);
	},
};

export = OrdersService;
