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
 *   courier.assigned ──► courierId recorded; courier: in_transit, then delivered with the handover code
 *
 * Every status change is checked by lib/domain/order-status and written with a compare-and-set on
 * the current status that appends the history entry and records the status's event (one atomic
 * write). A status that owes products a call (cancelled: release the stock, delivered: commit it)
 * carries `stockAction` until products answered: a retry, a redelivered event or the repair job
 * finishes it (products' calls are idempotent by orderId).
 *
 * Jobs: "payment-deadline" (every ORDER_PAYMENT_DEADLINE_MS / 2, at most 30 s, and at start-up) asks
 * payments (payments.forOrder) about orders still `created` past the deadline and confirms, leaves or
 * cancels them (lib/domain/orders paymentRepairFor), and finishes owed stock calls; "unpaid-sweep"
 * (PAYMENT_RETRY_GRACE_MS > 0) cancels orders whose retry window closed.
 */
import crypto from "crypto";
import { Context, Endpoint, Errors, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { AuthUser, Ctx, Page } from "../lib/contracts/common";
import type { CourierAssigned, PendingEvent } from "../lib/contracts/events";
import { idParam, impossibleDates, isoTimeParam } from "../lib/contracts/params";
import * as contract from "../lib/contracts/orders";
import type { CreateOrderParams, CustomerView, ListOrdersParams, Order, OrderView } from "../lib/contracts/orders";
import type { UpdateStatusParams } from "../lib/contracts/orders";
import { Actor, checkTransition, HANDOVER_CODE_DIGITS, historyEntry } from "../lib/domain/order-status";
import {
	MAX_HANDOVER_FAILURES,
	OrderStatus,
	scheduledSlotProblem,
	TransitionProblem,
} from "../lib/domain/order-status";
import * as rules from "../lib/domain/orders";
import { isPaymentStatus, PaymentStatus, paymentStatusesBefore } from "../lib/domain/payment-status";
import { config } from "../lib/infra/config";
import { decodeCursor, encodeCursor } from "../lib/infra/cursor";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso, numericCode } from "../lib/infra/ids";
import { Jobs } from "../lib/infra/jobs";
import { countRepair, registerRepairMetric } from "../lib/infra/repair-metrics";
import { UniqueViolationError } from "../lib/infra/store/types";

const SYSTEM: Actor = { id: "system", role: "system" };
/** Fields of orders stored by earlier versions, never shown. */
const LEGACY_HIDDEN = ["kind", "sent"];

interface Settings {
	rest: string;
}

interface TransitionExtra {
	reason?: string;
	inc?: Record<string, number>;
	/** Recorded with the transition, besides the status's own event. */
	events?: PendingEvent[];
}

interface OwnMethods {
	checkOrderRequest(params: CreateOrderParams): void;
	requestHash(params: CreateOrderParams): string;
	orderForKey(key: string, hash: string): Promise<Order | null>;
	replay(ctx: Ctx<CreateOrderParams>, order: Order): OrderView;
	placeOrder(
		ctx: Ctx<CreateOrderParams>,
		key: string | undefined,
		hash: string,
	): Promise<{ order: Order; replayed: boolean }>;
	mayFinishStock(order: Order, status: OrderStatus, actor: Actor): boolean;
	transitionError(problem: TransitionProblem, order: Order, data?: Record<string, unknown>): Error;
	claimHandoverAttempt(ctx: Ctx<UpdateStatusParams>, order: Order, actor: Actor): Promise<Order>;
	transition(ctx: Context, order: Order, to: OrderStatus, actor: Actor, extra?: TransitionExtra): Promise<Order | null>;
	settleStock(ctx: Context, order: Order): Promise<Order>;
	moveBySaga(ctx: Context, orderId: string, to: OrderStatus, extra?: TransitionExtra): Promise<Order | null>;
	awaitsPaymentRetry(ctx: Context, orderId: string, reason: string): Promise<boolean>;
	cancelUnpaidOrders(): Promise<number>;
	repairStuckOrders(): Promise<number>;
	repairUnpaidOrder(ctx: Context, order: Order): Promise<boolean>;
	repaired(kind: string, orderId: string): void;
	recordPayment(ctx: Context, orderId: string, paymentId: string | null, status: PaymentStatus): Promise<void>;
	assignCourier(ctx: Context, data: CourierAssigned): Promise<void>;
	upsertCustomer(customer: CustomerView): Promise<void>;
	migrateLegacyRecords(): Promise<void>;
	visibleOrderOr404(ctx: Ctx<unknown>, orderId: string): Promise<Order>;
	orderView(order: Order, me: AuthUser): OrderView;
	courierPosition(ctx: Ctx, order: Order): Promise<unknown>;
}

type ThisService = Service<Settings> &
	DbMethods<Order> &
	EventsMethods &
	OwnMethods & {
		cfg: { promiseMinutes: number; etaTimeoutMs: number; paymentRetryGraceMs: number; paymentDeadlineMs: number };
		jobs: Jobs;
	};

/** A context for jobs: no caller, no endpoint. */
const jobContext = (service: ThisService): Context =>
	Context.create(service.broker, null as unknown as Endpoint, {}, { requestID: `job-${newId()}` });

const OrdersService: ServiceSchema<Settings, ThisService> = {
	name: "orders",
	// EventsMixin first: Moleculer runs mixins' started() last-listed first, and the events mixin must
	// find DbMixin's store started to use its outbox (else writes' events land in an outbox nobody relays).
	mixins: [
		EventsMixin,
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
			],
			kinds: { customers: {} },
		}),
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /orders",
			auth: { roles: ["customer"] },
			params: contract.createOrderParams,
			async handler(this: ThisService, ctx: Ctx<CreateOrderParams>): Promise<OrderView> {
				this.checkOrderRequest(ctx.params);
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
				if (this.mayFinishStock(order, p.status, actor)) return this.orderView(await this.settleStock(ctx, order), me);
				const problem = checkTransition(order, p.status, actor, p);
				const isHandover = p.status === "delivered" && actor.role === "courier" && !!p.handoverCode;
				const codeTried = problem ? problem.type === "WRONG_HANDOVER_CODE" : isHandover;
				if (problem && !codeTried) throw this.transitionError(problem, order);
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
					reason: p.reason,
					...(codeTried ? { inc: { handoverFailures: -1 } } : {}),
				});
				if (!updated) throw conflict("The order changed meanwhile; reload it", { type: "INVALID_TRANSITION" });
				return this.orderView(updated, me);
			},
		},

		/** Internal (couriers' tracking stream): may this user follow the order, and where it goes. */
		trackingView: {
			visibility: "public",
			params: contract.trackingViewParams,
			async handler(this: ThisService, ctx: Ctx<contract.TrackingViewParams>): Promise<contract.TrackingView> {
				const order = await this.findEntity(ctx.params.orderId);
				if (!order || !rules.maySeeOrder(order, { id: ctx.params.userId, role: ctx.params.role }))
					return {
						visible: false,
						status: null,
						deliveryLocation: null,
						courierId: null,
						customerId: null,
						supplierId: null,
					};
				const { status, deliveryLocation, customerId, supplierId } = order;
				return { visible: true, status, deliveryLocation, courierId: order.courierId || null, customerId, supplierId };
			},
		},

		/**
		 * Internal (payments, when it charges an order): hands over the order's payment token once
		 * and forgets it. The token waits here, not in an event, so an order placed while payments is
		 * down is still charged when payments comes back (order.created is durable).
		 */
		takePaymentToken: {
			visibility: "public",
			params: { orderId: idParam },
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>): Promise<{ paymentToken: string | null }> {
				const order = await this.findEntity(ctx.params.orderId);
				const token = order?.stagedPaymentToken;
				if (!order || !token) return { paymentToken: null };
				const taken = await this.compareAndSet(
					ctx,
					{ _id: order._id, stagedPaymentToken: token },
					{ $unset: { stagedPaymentToken: 1 } },
				);
				return { paymentToken: taken ? token : null };
			},
		},

		/** Internal: the state of some orders, for payments' reconciliation and payment retries. */
		statusesFor: {
			visibility: "public",
			params: { orderIds: { type: "array", min: 1, max: 1000, items: idParam } },
			async handler(this: ThisService, ctx: Ctx<{ orderIds: string[] }>): Promise<contract.OrderPaymentState[]> {
				const orders = await this.findEntities({ query: { _id: { $in: ctx.params.orderIds } } });
				return orders.map((o) => ({
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
			params: { since: isoTimeParam, limit: { type: "number", integer: true, min: 1, max: 5000, default: 1000 } },
			async handler(this: ThisService, ctx: Ctx<{ since: string; limit: number }>): Promise<string[]> {
				const orders = await this.findEntities({
					query: { updatedAt: { $gte: ctx.params.since } },
					sort: ["updatedAt"],
					limit: ctx.params.limit,
				});
				return orders.map((o) => o._id);
			},
		},
	},

	businessEvents: {
		async "payment.processed"(envelope, ctx) {
			const { orderId, paymentId, status } = envelope.data;
			await this.recordPayment(ctx, orderId, paymentId, status);
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
		checkOrderRequest(params: CreateOrderParams): void {
			const ids = params.items.map((i) => i.productId);
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
		requestHash(params: CreateOrderParams): string {
			const { paymentToken: _token, ...rest } = params;
			return crypto.createHash("sha256").update(JSON.stringify(rest)).digest("hex");
		},

		/** The order an earlier request with this Idempotency-Key created (422 if that request was different). */
		async orderForKey(this: ThisService, key: string, hash: string): Promise<Order | null> {
			const existing = await this.findOneEntity({ idempotencyKey: key });
			if (existing && existing.requestHash !== hash)
				throw new Errors.MoleculerClientError(
					"This Idempotency-Key was used for a different order",
					422,
					"IDEMPOTENCY_KEY_REUSED",
				);
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

		/** The order is in `status` but products was not told yet, and `actor` made that move (or is an admin). */
		mayFinishStock(order: Order, status: OrderStatus, actor: Actor): boolean {
			if (order.status !== status || !order.stockAction) return false;
			if (actor.role === "admin") return true;
			const entry = [...order.history].reverse().find((h) => h.status === status);
			return !!entry && entry.by === actor.id;
		},

		transitionError(problem: TransitionProblem, order: Order, data: Record<string, unknown> = {}): Error {
			return new Errors.MoleculerClientError(problem.message, problem.code, problem.type, {
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
				problem || { message: "The order changed meanwhile; reload it", code: 409, type: "INVALID_TRANSITION" },
				current,
			);
		},

		/**
		 * Moves an order from the status it was read in to `to` (compare-and-set), appends the history
		 * entry and records the status's event in the same write, then tells products. null when the
		 * order changed meanwhile (nothing written, no event).
		 */
		async transition(this: ThisService, ctx, order, to, actor, extra = {}) {
			const now = nowIso();
			const set = rules.transitionFields(order, to, actor, now, {
				reason: extra.reason,
				promiseMinutes: this.cfg.promiseMinutes,
			});
			const event = rules.orderStatusEvent({ ...order, ...set });
			const updated = await this.compareAndSet(
				ctx,
				{ _id: order._id, status: order.status },
				{
					$set: set,
					$push: { history: historyEntry(to, actor, now, { reason: extra.reason }) },
					...(extra.inc ? { $inc: extra.inc } : {}),
				},
				[...(event ? [event] : []), ...(extra.events || [])],
			);
			return updated && this.settleStock(ctx, updated);
		},

		/** The products call a status owes (idempotent by orderId), then the mark cleared. */
		async settleStock(this: ThisService, ctx, order) {
			const action = order.stockAction;
			if (!action) return order;
			const name = action === "release" ? "products.releaseStock" : "products.commitStock";
			await (ctx ? ctx.call(name, { orderId: order._id }) : this.broker.call(name, { orderId: order._id }));
			const done = await this.compareAndSet(
				ctx,
				{ _id: order._id, stockAction: action },
				{ $unset: { stockAction: 1 } },
			);
			return done || order;
		},

		/** A saga step: move the order if it still waits for it; finish what is owed if it is already there. */
		async moveBySaga(this: ThisService, ctx, orderId, to, extra = {}) {
			const order = await this.findEntity(orderId);
			if (!order) {
				this.logger.warn({ requestId: ctx?.requestID, orderId }, `Saga step for an unknown order (${to})`);
				return null;
			}
			if (order.status === to) {
				await this.settleStock(ctx, order);
				return null;
			}
			// Payment outcomes only move orders still waiting for them; e.g. a customer already cancelled it.
			if (order.status !== "created") return null;
			const updated = await this.transition(ctx, order, to, SYSTEM, extra);
			return updated || this.moveBySaga(ctx, orderId, to, extra);
		},

		/**
		 * With PAYMENT_RETRY_GRACE_MS > 0 a failed payment leaves the order `created` for that long (the
		 * window starts at the first failure and never grows), so the customer can pay again
		 * (POST /api/payments); cancelUnpaidOrders cancels it when the window closes.
		 */
		async awaitsPaymentRetry(this: ThisService, ctx, orderId, reason) {
			const grace = this.cfg.paymentRetryGraceMs;
			if (!(grace > 0)) return false;
			const until = new Date(Date.now() + grace).toISOString();
			await this.compareAndSet(
				ctx,
				{ _id: orderId, status: "created", paymentRetryUntil: { $exists: false } },
				{ $set: { paymentRetryUntil: until, paymentFailure: reason || "unknown" } },
			);
			const order = await this.findEntity(orderId);
			return !!order && order.status === "created" && Date.parse(order.paymentRetryUntil || "") > Date.now();
		},

		/** Job "unpaid-sweep": cancels orders whose payment failed and whose retry window has closed. */
		async cancelUnpaidOrders(this: ThisService) {
			const due = await this.findEntities({
				query: { status: "created", paymentStatus: "failed", paymentRetryUntil: { $lte: nowIso() } },
				limit: 100,
			});
			const ctx = jobContext(this);
			for (const order of due)
				await this.moveBySaga(ctx, order._id, "cancelled", {
					reason: `payment_failed: ${order.paymentFailure || "unknown"}`,
				});
			return due.length;
		},

		/**
		 * Job "payment-deadline": finishes products calls still owed, and repairs orders still `created`
		 * past ORDER_PAYMENT_DEADLINE_MS with what payments knows of their payment.
		 */
		async repairStuckOrders(this: ThisService) {
			const ctx = jobContext(this);
			let repaired = 0;
			const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
			const owing = await this.findEntities({
				query: { stockAction: { $exists: true }, updatedAt: { $lte: ago(this.cfg.paymentDeadlineMs / 4) } },
				limit: 100,
			});
			for (const order of owing) {
				await this.settleStock(ctx, order);
				this.repaired(order.stockAction === "release" ? "stock_released" : "stock_committed", order._id);
				repaired++;
			}
			if (!this.broker.registry.actions.isAvailable("payments.forOrder")) return repaired;
			const due = await this.findEntities({
				query: { status: "created", createdAt: { $lte: ago(this.cfg.paymentDeadlineMs) } },
				sort: ["createdAt"],
				limit: 100,
			});
			for (const order of due)
				if (
					await this.repairUnpaidOrder(ctx, order).catch((err: Error) => {
						this.logger.warn(
							{ orderId: order._id },
							`[payment-deadline] order ${order._id} not repaired: ${err.message}`,
						);
						return false;
					})
				)
					repaired++;
			return repaired;
		},

		repaired(this: ThisService, kind: string, orderId: string) {
			this.logger.info({ orderId, repair: kind }, `[payment-deadline] order ${orderId} repaired: ${kind}`);
			countRepair(this.broker, kind);
		},

		async repairUnpaidOrder(this: ThisService, ctx, order) {
			const payment = await ctx.call<contract.PaymentForOrder | null, { orderId: string }>("payments.forOrder", {
				orderId: order._id,
			});
			const retryOpen = Date.parse(order.paymentRetryUntil || "") > Date.now();
			const repair = rules.paymentRepairFor(payment, retryOpen);
			if (repair === "wait") return false;
			const paymentId = payment?.paymentId ?? order.paymentId;
			if (payment && isPaymentStatus(payment.status))
				await this.recordPayment(ctx, order._id, paymentId, payment.status);
			const problem =
				repair === "confirm"
					? "paid_order_not_confirmed"
					: payment
						? "payment_failed_not_cancelled"
						: "order_without_payment";
			const mismatch: PendingEvent = {
				type: "reconciliation.mismatch",
				data: { orderId: order._id, paymentId, problem },
			};
			const to = repair === "confirm" ? "confirmed" : "cancelled";
			const reason = repair === "cancel" ? "payment_timeout" : undefined;
			const moved = await this.moveBySaga(ctx, order._id, to, { reason, events: [mismatch] });
			if (moved) this.repaired(repair === "confirm" ? "order_confirmed" : "order_cancelled", order._id);
			return !!moved;
		},

		/** Records the latest payment state on the order, never going back (a late "pending" after "captured"). */
		async recordPayment(this: ThisService, ctx, orderId, paymentId, status) {
			await this.compareAndSet(
				ctx,
				{ _id: orderId, paymentStatus: { $in: paymentStatusesBefore(status) } },
				{ $set: { paymentStatus: status, ...(paymentId ? { paymentId } : {}), updatedAt: nowIso() } },
			);
		},

		async assignCourier(this: ThisService, ctx, data) {
			const { orderId, courierId, etaMinutes } = data;
			const now = nowIso();
			const order = await this.findEntity(orderId);
			if (!order || order.courierId === courierId) return;
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

		async upsertCustomer(this: ThisService, customer: CustomerView) {
			const customers = this.kind<CustomerView>("customers");
			const { _id, ...fields } = customer;
			if (await customers.updateOne({ _id }, { $set: fields })) return;
			try {
				await customers.insert(customer);
			} catch (err) {
				if (!(err instanceof UniqueViolationError)) throw err;
				await customers.updateOne({ _id }, { $set: fields });
			}
		},

		/** Earlier versions kept customers in the orders collection (`kind: "user"`): move them out once. */
		async migrateLegacyRecords(this: ThisService) {
			const legacy = await this.records.find({ query: { kind: "user" } });
			for (const doc of legacy) {
				const name = typeof doc.name === "string" ? doc.name : "";
				await this.upsertCustomer({
					_id: String(doc.userId || doc._id.replace(/^user:/, "")),
					name,
					updatedAt: nowIso(),
				});
			}
			if (legacy.length) await this.records.removeMany({ kind: "user" });
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
			return this.toPublic(order, hidden) as OrderView;
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
		};
		this.jobs = new Jobs(this.logger);
	},

	async started(this: ThisService) {
		registerRepairMetric(this.broker);
		await this.migrateLegacyRecords();
		const grace = this.cfg.paymentRetryGraceMs;
		if (grace > 0)
			this.jobs.start("unpaid-sweep", Math.max(50, Math.min(grace / 2, 30_000)), () => this.cancelUnpaidOrders());
		const deadline = this.cfg.paymentDeadlineMs;
		if (deadline > 0) {
			const every = Math.max(50, Math.min(deadline / 2, 30_000));
			this.jobs.start("payment-deadline", every, () => this.repairStuckOrders());
		}
	},

	events: {
		// Once at start-up too (the periodic run covers the rest), when every local service is up.
		"$broker.started"(this: ThisService) {
			if (this.cfg.paymentDeadlineMs > 0) void this.jobs.run("payment-deadline", () => this.repairStuckOrders());
		},
	},

	stopped(this: ThisService) {
		this.jobs.stopAll();
	},
};

// Moleculer's createService takes the base schema type; `this` is typed as ThisService above.
export = OrdersService as unknown as ServiceSchema;
