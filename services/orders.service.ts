/**
 * Orders: a customer orders cylinders from a supplier; the order runs as a saga.
 *
 *   POST /api/orders ──► products.reserveStock (sync: the last cylinder is decided here, 409 if gone)
 *        │               order stored `created` with order.created in the same write (the outbox)
 *        │               (a card token kept on the order, hidden; payments takes it with orders.takePaymentToken)
 *        ▼
 *   payments charges ──► payment.processed (captured / authorized) ──► `confirmed`, order.confirmed
 *                   └──► payment.failed ──► `cancelled`, stock released, order.cancelled
 *   cancelled after payment ──► order.cancelled { wasPaid } ──► payments refunds
 *   confirmed: the supplier prepares it (accepted → preparing → ready, order.preparation) and hands it to
 *              the assigned courier (in_transit), or the courier picks it up; delivered with the handover code
 *   courier.assigned ──► courierId recorded
 *
 * Every status change is checked by lib/domain/order-status and written with a compare-and-set on
 * the current status that appends the history entry and records the status's event (one atomic
 * write). A status that owes products a call (cancelled: release the stock, delivered: commit it)
 * carries `stockAction` until products answered: a retry, a redelivered event or the repair job
 * finishes it (products' calls are idempotent by orderId).
 *
 * Status changes and saga steps: ./parts/orders/saga.mixin.ts. Jobs (payment deadline, unpaid sweep,
 * on TimersMixin): ./parts/orders/jobs.mixin.ts. Internal actions for payments and couriers, and the
 * customers read model: ./parts/orders/internal.mixin.ts. The supplier's preparation stages
 * (PUT /api/orders/:id/preparation): ./parts/orders/preparation.mixin.ts.
 */
import crypto from "crypto";
import { ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMixin } from "../mixins/events.mixin";
import { TimersMixin } from "../mixins/timers.mixin";
import type { AuthUser, Ctx, Page } from "../lib/contracts/common";
import { idParam, impossibleDates } from "../lib/contracts/params";
import * as contract from "../lib/contracts/orders";
import type { CreateOrderParams, CustomerView, ListOrdersParams, Order, OrderView } from "../lib/contracts/orders";
import type { UpdateStatusParams } from "../lib/contracts/orders";
import { Actor, checkTransition, HANDOVER_CODE_DIGITS } from "../lib/domain/order-status";
import { labelledHistory } from "../lib/domain/order-labels";
import { MAX_HANDOVER_FAILURES, TransitionProblem } from "../lib/domain/order-status";
import * as rules from "../lib/domain/orders";
import { deliveryProofProblem } from "../lib/domain/proofs";
import { config } from "../lib/infra/config";
import { decodeCursor, encodeCursor } from "../lib/infra/cursor";
import { clientError, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso, numericCode } from "../lib/infra/ids";
import { OrderInternalMixin } from "./parts/orders/internal.mixin";
import { OrderJobsMixin } from "./parts/orders/jobs.mixin";
import { OrderPreparationMixin } from "./parts/orders/preparation.mixin";
import { OrderSagaMixin } from "./parts/orders/saga.mixin";
import type { OwnMethods, Settings, ThisService } from "./parts/orders/types";

/** Fields of orders stored by earlier versions, never shown. */
const LEGACY_HIDDEN = ["kind", "sent"];

const OrdersService: ServiceSchema<Settings, ThisService> = {
	name: "orders",
	// DbMixin last: Moleculer runs mixins' started() last-listed first, and the others need its store
	// (the events mixin its outbox: else writes' events land in an outbox nobody relays).
	mixins: [
		TimersMixin,
		EventsMixin,
		OrderSagaMixin,
		OrderJobsMixin,
		OrderInternalMixin,
		OrderPreparationMixin,
		DbMixin<Order>({
			collection: "orders",
			indexes: [
				// One per role's list (newest first), and the admin's list and the repair job.
				{ fields: { customerId: 1, createdAt: -1 } },
				{ fields: { supplierId: 1, createdAt: -1 } },
				{ fields: { courierId: 1, createdAt: -1 } },
				{ fields: { status: 1, createdAt: -1 } },
				{ fields: { createdAt: -1 } },
				{ fields: { updatedAt: 1 } },
				{ fields: { stockAction: 1 }, sparse: true },
				{ fields: { idempotencyKey: 1 }, unique: true, sparse: true },
				// Start-up's legacy migration looks for kind "user" records: an index, not a scan of every order.
				{ fields: { kind: 1 }, sparse: true },
			],
			kinds: { customers: {} },
			// A card token waiting for payments is encrypted at rest (and gone once taken).
			sealed: ["stagedPaymentToken"],
		}),
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /orders",
			auth: { roles: ["customer"] },
			params: contract.createOrderParams,
			async handler(this: ThisService, ctx: Ctx<CreateOrderParams>): Promise<OrderView> {
				const problem = rules.orderRequestProblem(ctx.params, new Date());
				if (problem) throw unprocessable(problem.message, { fields: [problem.field] });
				const me = ctx.meta.user!;
				const key = ctx.meta.idempotencyKey ? `${me.id}:${ctx.meta.idempotencyKey}` : undefined;
				const hash = this.requestHash(ctx.params);
				const earlier = key ? await this.orderForKey(key, hash) : null;
				if (earlier) return this.replay(ctx, earlier);
				const { order, replayed } = await this.placeOrder(ctx, key, hash);
				if (replayed) return this.replay(ctx, order);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${order._id}`;
				return this.orderView(order, me);
			},
		},

		list: {
			rest: "GET /orders",
			params: contract.listOrdersParams,
			async handler(this: ThisService, ctx: Ctx<ListOrdersParams>): Promise<Page<OrderView>> {
				const p = ctx.params;
				const invalid = impossibleDates({ ...p }, ["from", "to"]);
				if (invalid.length) throw unprocessable(`Not a valid date: ${invalid.join(", ")}`, { fields: invalid });
				const after = p.cursor ? decodeCursor(p.cursor) : null;
				if (p.cursor && !after) throw unprocessable("Not a cursor from this list", { fields: ["cursor"] });
				const me = ctx.meta.user!;
				// Keyset pages (cursor) on the (role field, createdAt) indexes; `page` still works by offset.
				const [found, total] = await Promise.all([
					this.records.find({
						query: rules.orderListQuery(me, p, after),
						sort: rules.ORDER_LIST_SORT,
						limit: p.pageSize + 1,
						offset: after ? 0 : (p.page - 1) * p.pageSize,
					}),
					p.withTotal ? this.countEntities(rules.orderListQuery(me, p)) : Promise.resolve(undefined),
				]);
				const rows = found.slice(0, p.pageSize);
				const last = rows[rows.length - 1];
				const next = found.length > p.pageSize ? encodeCursor({ createdAt: last.createdAt, id: last._id }) : null;
				const page = { rows: rows.map((o) => this.orderView(o, me)), page: p.page, pageSize: p.pageSize, next };
				return total === undefined ? page : { ...page, total };
			},
		},

		get: {
			rest: "GET /orders/:id",
			params: { id: idParam },
			async handler(this: ThisService, ctx: Ctx<{ id: string }>) {
				const order = await this.visibleOrderOr404(ctx, ctx.params.id);
				return { ...this.orderView(order, ctx.meta.user!), courier: await this.courierPosition(ctx, order) };
			},
		},

		updateStatus: {
			rest: "PUT /orders/:id/status",
			params: contract.updateStatusParams,
			async handler(this: ThisService, ctx: Ctx<UpdateStatusParams>): Promise<OrderView> {
				const me = ctx.meta.user!;
				const p = ctx.params;
				let order = await this.visibleOrderOr404(ctx, p.id);
				const actor: Actor = { id: me.id, role: me.role };
				// The status changed but products was not told (a retry after an error): finish it.
				if (rules.mayFinishStock(order, p.status, actor)) return this.orderView(await this.settleStock(ctx, order), me);
				const problem = checkTransition(order, p.status, actor, p);
				const isHandover = p.status === "delivered" && actor.role === "courier" && !!p.handoverCode;
				const codeTried = problem ? problem.type === "WRONG_HANDOVER_CODE" : isHandover;
				if (problem && !codeTried) throw this.transitionError(problem, order);
				if (!problem && p.status === "delivered" && p.leftWith !== undefined)
					await this.requireProof(ctx, order, p.leftWith);
				if (codeTried) {
					// Each code a courier tries uses up one of the order's attempts, atomically, before it is
					// judged: concurrent guesses cannot get past the limit. A right code gives its attempt back.
					order = await this.claimHandoverAttempt(ctx, order, actor);
					if (problem)
						throw this.transitionError(problem, order, {
							attemptsLeft: Math.max(0, MAX_HANDOVER_FAILURES - order.handoverFailures),
						});
				}
				const updated = await this.transition(ctx, order, p.status, actor, {
					reason: p.reason ?? (p.leftWith ? `left with ${p.leftWith}` : undefined),
					...(codeTried ? { inc: { handoverFailures: -1 } } : {}),
				});
				if (!updated) throw clientError("INVALID_TRANSITION", "The order changed meanwhile; reload it");
				return this.orderView(updated, me);
			},
		},
	},

	businessEvents: {
		async "payment.processed"(envelope, ctx) {
			const { orderId, paymentId, status, method } = envelope.data;
			await this.recordPayment(ctx, orderId, paymentId, status, rules.paymentMethodOf(method));
			// A PIX chosen to pay again within the retry window: the order now waits for it (failed → pending
			// only while the window is open; a late `pending` otherwise never overwrites `failed`).
			if (status === "pending")
				await this.compareAndSet(
					ctx,
					{ _id: orderId, status: "created", paymentStatus: "failed", paymentRetryUntil: { $gt: nowIso() } },
					{
						$set: {
							paymentStatus: "pending",
							paymentId,
							paymentMethod: rules.paymentMethodOf(method) ?? "pix",
							updatedAt: nowIso(),
						},
					},
				);
			if (status === "captured" || status === "authorized") await this.moveBySaga(ctx, orderId, "confirmed");
		},
		async "payment.failed"(envelope, ctx) {
			const { orderId, paymentId, reason } = envelope.data;
			await this.recordPayment(ctx, orderId, paymentId, "failed");
			if (await this.awaitsPaymentRetry(ctx, orderId, reason)) return;
			await this.moveBySaga(ctx, orderId, "cancelled", { reason: `payment_failed: ${reason || "unknown"}` });
		},
		async "refund.processed"(envelope, ctx) {
			const { orderId, refundId, amountCents, fullyRefunded } = envelope.data;
			if (typeof refundId !== "string" || !/^[\w-]{1,64}$/.test(refundId)) {
				this.logger.warn({ requestId: ctx.requestID, orderId }, "refund.processed without a usable refundId ignored");
				return;
			}
			// Counted once per refund, whatever the envelope: the refund id is recorded in the same update.
			await this.compareAndSet(
				ctx,
				{ _id: orderId, [`refunds.${refundId}`]: { $exists: false } },
				{
					$inc: { refundedCents: amountCents || 0 },
					$set: { [`refunds.${refundId}`]: amountCents || 0, updatedAt: nowIso() },
				},
			);
			await this.recordPayment(ctx, orderId, null, fullyRefunded ? "refunded" : "partially_refunded");
		},
		async "courier.assigned"(envelope, ctx) {
			await this.assignCourier(ctx, envelope.data);
		},
		// Local read model: who the customers are, so order views can name them (customerName).
		// (Products and prices come from products.reserveStock when the order is placed.)
		async "user.created"(envelope) {
			const { userId, name, role } = envelope.data;
			if (role === "customer") await this.upsertCustomer({ _id: userId, name, updatedAt: nowIso() });
		},
	} satisfies BusinessEventHandlers<ThisService>,

	methods: {
		/** What makes two requests "the same" for an Idempotency-Key (the token is left out: it may be re-issued). */
		requestHash(params: CreateOrderParams): string {
			const { paymentToken: _token, ...rest } = params;
			return crypto.createHash("sha256").update(JSON.stringify(rest)).digest("hex");
		},

		/** The order an earlier request with this Idempotency-Key created (422 if that request was different). */
		async orderForKey(this: ThisService, key: string, hash: string): Promise<Order | null> {
			const existing = await this.findOneEntity({ idempotencyKey: key });
			if (existing && existing.requestHash !== hash) throw clientError("IDEMPOTENCY_KEY_REUSED");
			return existing;
		},

		/** The answer to a retried POST: the order its key created (its order.created is in the outbox). */
		replay(this: ThisService, ctx: Ctx<CreateOrderParams>, order: Order): OrderView {
			ctx.meta.$statusCode = 200;
			ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
			return this.orderView(order, ctx.meta.user!);
		},

		/** Reserve stock (authoritative prices come back with it), then store the order with order.created. */
		async placeOrder(this: ThisService, ctx: Ctx<CreateOrderParams>, key: string | undefined, hash: string) {
			const p = ctx.params;
			const me = ctx.meta.user!;
			const orderId = newId();
			const reservation = await ctx.call<contract.ReservationForOrder, Record<string, unknown>>(
				"products.reserveStock",
				{
					orderId,
					supplierId: p.supplierId,
					items: p.items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
					deliverTo: { lat: p.deliveryAddress.lat, lng: p.deliveryAddress.lng },
					...(p.scheduledSlot ? { deliverAt: p.scheduledSlot.from } : {}),
				},
			);
			try {
				const customer = await this.kind<CustomerView>("customers").findById(me.id);
				const doc = rules.buildOrder({
					orderId,
					customer: { id: me.id, role: me.role },
					customerName: customer ? customer.name : null,
					params: p,
					reservation,
					handoverCode: numericCode(HANDOVER_CODE_DIGITS),
					idempotencyKey: key,
					requestHash: hash,
					now: nowIso(),
				});
				const changeProblem = rules.changeForProblem(doc);
				if (changeProblem) throw unprocessable(changeProblem, { field: "changeForCents", totalCents: doc.totalCents });
				const order = await this.insertEntity(ctx, doc, [
					{ type: "order.created", data: rules.orderCreatedEvent(doc) },
				]);
				return { order, replayed: false };
			} catch (err) {
				await ctx.call("products.releaseStock", { orderId }).catch((e: Error) => this.logger.error(e.message));
				// Two retries with one key raced: the other one stored the order; answer with it.
				const winner = key && (err as { code?: number }).code === 409 ? await this.orderForKey(key, hash) : null;
				if (winner) return { order: winner, replayed: true };
				throw err;
			}
		},

		/** A delivery left with someone for an absent customer needs the courier's proof photo first (proofs service). */
		async requireProof(this: ThisService, ctx: Ctx<UpdateStatusParams>, order: Order, leftWith: string) {
			const proof = await ctx.call<{ leftWith: string | null } | null, { orderId: string }>("proofs.forOrder", {
				orderId: order._id,
			});
			const problem = deliveryProofProblem(leftWith, proof);
			if (problem) throw clientError(problem.type, problem.message, { fields: ["leftWith"] });
		},

		transitionError(problem: TransitionProblem, order: Order, data: Record<string, unknown> = {}): Error {
			return clientError(problem.type, problem.message, {
				status: order.status,
				...data,
			});
		},

		/** One handover attempt, counted on the order (compare-and-set); 423 HANDOVER_LOCKED when none is left. */
		async claimHandoverAttempt(this: ThisService, ctx: Ctx<UpdateStatusParams>, order: Order, actor: Actor) {
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
				problem || { message: "The order changed meanwhile; reload it", type: "INVALID_TRANSITION" },
				current,
			);
		},

		async visibleOrderOr404(this: ThisService, ctx: Ctx<unknown>, orderId: string) {
			const order = await this.findEntity(orderId);
			if (!order) throw notFound("order", orderId);
			if (!rules.maySeeOrder(order, ctx.meta.user!)) throw forbidden("This is not your order");
			return order;
		},

		orderView(this: ThisService, order: Order, me: AuthUser): OrderView {
			const hidden: string[] = [...contract.ORDER_HIDDEN_FIELDS, ...LEGACY_HIDDEN];
			if (!rules.maySeeHandoverCode(order, me)) hidden.push("handoverCode");
			if (me.role === "courier") hidden.push("cpf");
			const view = this.toPublic(order, hidden) as OrderView;
			return { ...view, history: labelledHistory(order.history, me.locale) ?? order.history } as OrderView;
		},

		/** Live courier position and ETA, when a courier is on it; null if couriers is absent or slow. */
		async courierPosition(this: ThisService, ctx: Ctx, order: Order) {
			if (!order.courierId || !["confirmed", "in_transit"].includes(order.status)) return null;
			if (!this.broker.registry.actions.isAvailable("couriers.eta")) return null;
			const via = order.status === "confirmed" && order.supplierLocation ? { via: order.supplierLocation } : {};
			try {
				return await ctx.call(
					"couriers.eta",
					{ courierId: order.courierId, to: order.deliveryLocation, ...via }, // not picked up yet: by the supplier first
					{ timeout: this.cfg.etaTimeoutMs, retries: 0 },
				);
			} catch (err) {
				this.logger.warn(
					{ requestId: ctx.requestID, orderId: order._id },
					`couriers.eta unavailable: ${(err as Error).message}`,
				);
				return null;
			}
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,

	created(this: ThisService) {
		const cfg = config();
		this.cfg = {
			promiseMinutes: cfg.orderPromiseMinutes,
			etaTimeoutMs: cfg.orderEtaTimeoutMs,
			paymentRetryGraceMs: cfg.payments.retryGraceMs,
			paymentDeadlineMs: cfg.orderPaymentDeadlineMs,
			pixExpiryMs: cfg.payments.pixExpiryMs,
		};
	},
};

// Moleculer's createService takes the base schema type; `this` is typed as ThisService above.
export = OrdersService as unknown as ServiceSchema;
