/**
 * Payments: one payment per order (unique orderId), charged through a PaymentProvider
 * (lib/payment-provider.ts), with a ledger of transactions (charge, capture, refund) per payment.
 *
 * Saga: order.created → charge once, whatever the redelivery (the payment is claimed with a
 * compare-and-set from "new" to "processing") → payment.processed (captured; authorized for cash;
 * pending for PIX) or payment.failed. order.cancelled → refund what was captured (once), or void an
 * authorization / pending PIX. order.delivered → capture cash on delivery.
 *
 * The payment token never travels in an event: it waits on the order, and the instance that claims
 * the payment for the charge takes it from orders with a direct call (orders.takePaymentToken),
 * which hands it over once. An order placed while payments was down is charged when it is back.
 *
 * Built-in simulated provider (PAYMENT_PROVIDER=simulated, the default). The customer's card is
 * never sent to us: POST /api/orders takes a `paymentToken` (what a provider's client SDK returns);
 * the simulated provider takes these test card numbers as tokens:
 *   4242424242424242 captured · 4000000000000002 declined (card_declined)
 *   4000000000009995 declined (insufficient_funds) · 4000000000009999 no answer → after
 *   PAYMENT_PROVIDER_TIMEOUT_MS the payment fails with reason "timeout" and the order is cancelled.
 *   PIX: pending with a copy-paste code (GET /api/payments shows it), confirmed after
 *   PIX_AUTO_CONFIRM_MS (0 = never by itself) or by the internal action payments.confirmPix.
 *   Cash: authorized at order time, captured when the order is delivered.
 *
 * POST /api/payments (customer): pay a pending PIX order by card instead, or charge an order whose
 * payment was not attempted yet. A declined card is not retried here: the decline cancels the order.
 *
 * Reconciliation: payments.reconcile (and a timer every RECONCILE_INTERVAL_MS, 0 = off) compares
 * every payment with its order (orders.statusesFor) and publishes reconciliation.mismatch.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { EventEnvelope } from "../lib/domain/events";
import { newId, nowIso } from "../lib/infra/ids";
import {
	ChargeResult,
	OrderState,
	orderWithoutPayment,
	PaymentState,
	PaymentProvider,
	ProviderTimeoutError,
	reconciliationProblems,
	refundableCents,
	refundStatus,
	SimulatedProvider,
	withTimeout,
} from "../lib/infra/payment-provider";
import { config } from "../lib/infra/config";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

const HIDDEN_FIELDS = ["announced", "autoRefunded"];
const REFUNDABLE = ["captured", "partially_refunded"];
const id = { type: "string", min: 1, max: 64 };

function providerFor(name: string): PaymentProvider {
	if (name === "simulated") return new SimulatedProvider();
	throw new Error(`Unknown PAYMENT_PROVIDER '${name}' (available: simulated)`);
}

const PaymentsService: ServiceSchema = {
	name: "payments",
	mixins: [
		DbMixin({
			collection: "payments",
			indexes: [{ fields: { orderId: 1 }, unique: true }, { fields: { customerId: 1 } }, { fields: { status: 1 } }],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		pay: {
			rest: "POST /payments",
			auth: { roles: ["customer"] },
			params: {
				orderId: id,
				method: { type: "enum", values: ["card", "pix"], optional: true },
				paymentToken: { type: "string", min: 1, max: 200, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const order = await this.orderForPayment(ctx, ctx.params.orderId);
				const method = ctx.params.method || order.paymentMethod;
				if (method === "card" && !ctx.params.paymentToken)
					throw unprocessable("A card payment needs a paymentToken", { fields: ["paymentToken"] });
				const payment = await this.ensurePayment(ctx, order);
				const retryable = this.retryableFrom(payment, method);
				const charged = await this.charge(ctx, payment, retryable, method, ctx.params.paymentToken);
				if (!charged) throw conflict(`This payment is ${payment.status}`, { status: payment.status });
				return this.paymentView(charged);
			},
		},

		list: {
			rest: "GET /payments",
			params: {
				orderId: { ...id, optional: true },
				status: { type: "string", max: 32, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, orderId, status } = ctx.params;
				const me = ctx.meta.user!;
				const query: Doc = {};
				if (me.role === "customer") query.customerId = me.id;
				else if (me.role === "supplier") query.supplierId = me.id;
				else if (me.role !== "admin") throw forbidden("Couriers have no payments to see");
				if (orderId) query.orderId = orderId;
				if (status) query.status = status;
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((p: Doc) => this.paymentView(p)), total, page, pageSize };
			},
		},

		refund: {
			rest: "POST /payments/:id/refund",
			auth: { roles: ["admin"], mfa: true },
			params: {
				id,
				amountCents: { type: "number", integer: true, min: 1, max: 100_000_000, optional: true },
				reason: { type: "string", min: 1, max: 500, trim: true },
			},
			async handler(this: any, ctx: Ctx) {
				const payment = await this.getEntityOr404(ctx.params.id, "payment");
				const refundable = refundableCents(payment);
				if (!REFUNDABLE.includes(payment.status) || refundable <= 0)
					throw conflict("Nothing of this payment can be refunded", { status: payment.status, refundableCents: 0 });
				const amount = ctx.params.amountCents ?? refundable;
				const refunded = await this.refund(ctx, payment, amount, ctx.params.reason, ctx.meta.user!.id);
				return this.paymentView(refunded);
			},
		},

		/** Internal: the PIX payment was paid (the provider's webhook would call this). */
		confirmPix: {
			visibility: "public",
			params: { paymentId: id },
			async handler(this: any, ctx: Ctx) {
				const confirmed = await this.confirmPix(ctx, ctx.params.paymentId);
				if (!confirmed) {
					const payment = await this.getEntityOr404(ctx.params.paymentId, "payment");
					throw conflict(`This payment is ${payment.status}, not a pending PIX`, { status: payment.status });
				}
				return this.paymentView(confirmed);
			},
		},

		/** Internal: compare every payment with its order; publishes and returns the mismatches. */
		reconcile: {
			visibility: "public",
			params: { graceMs: { type: "number", integer: true, min: 0, optional: true } },
			async handler(this: any, ctx: Ctx) {
				return this.reconcile(ctx, ctx.params.graceMs ?? this.settings.reconcileGraceMs);
			},
		},
	} as any,

	businessEvents: {
		async "order.created"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const order = envelope.data;
			const payment = await this.ensurePayment(ctx, order);
			if (payment.status !== "new") return this.announceIfSilent(ctx, payment);
			// The token waits on the order; orders hands it over once (and forgets it).
			const token = order.hasPaymentToken ? () => this.takePaymentToken(ctx, order.orderId) : null;
			await this.charge(ctx, payment, ["new"], order.paymentMethod, token);
		},
		async "order.cancelled"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const payment = await this.ensurePayment(ctx, envelope.data, "voided");
			await this.settleCancelled(ctx, payment, envelope.data.reason);
		},
		async "order.delivered"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.captureCash(ctx, envelope.data.orderId);
		},
	},

	methods: {
		/** The order behind a customer's POST /api/payments: theirs, and still waiting for payment. */
		async orderForPayment(this: any, ctx: Ctx, orderId: string): Promise<Doc> {
			const [order] = (await ctx.call("orders.statusesFor", { orderIds: [orderId] })) as Doc[];
			if (!order) throw notFound("order", orderId);
			if (order.customerId !== ctx.meta.user!.id) throw forbidden("This is not your order");
			if (order.status !== "created") throw conflict(`This order is ${order.status}`, { status: order.status });
			return order;
		},

		/** The order's one payment, created on first sight (from the event or a customer's POST). */
		async takePaymentToken(this: any, ctx: Ctx, orderId: string): Promise<string | null> {
			const { paymentToken } = (await ctx.call("orders.takePaymentToken", { orderId })) as any;
			return paymentToken;
		},

		async ensurePayment(this: any, ctx: Ctx, order: Doc, initialStatus = "new"): Promise<Doc> {
			const existing = await this.findOneEntity({ orderId: order.orderId });
			if (existing) return existing;
			const now = nowIso();
			try {
				return await this.insertEntity(ctx, {
					orderId: order.orderId,
					customerId: order.customerId,
					supplierId: order.supplierId,
					method: order.paymentMethod,
					amountCents: order.totalCents,
					status: initialStatus,
					capturedCents: 0,
					refundedCents: 0,
					attempts: 0,
					transactions: [],
					createdAt: now,
					updatedAt: now,
				});
			} catch (err: any) {
				if (err && err.code === 409) return this.findOneEntity({ orderId: order.orderId });
				throw err;
			}
		},

		/**
		 * From which states a customer may (re)start a payment with `method`: a pending PIX paid by card
		 * instead, or a payment not charged yet (order.created not handled yet). Not a failed one: a
		 * decline cancels the order at once (payment.failed), so there is nothing left to retry; the
		 * customer places a new order.
		 */
		retryableFrom(this: any, payment: Doc, method: string): string[] {
			if (payment.status === "pending" && method === "card") return ["pending"];
			if (payment.status === "new") return ["new"];
			// Only while orders keeps a failed order open for a retry (PAYMENT_RETRY_GRACE_MS).
			if (payment.status === "failed" && this.settings.retryGraceMs > 0) return ["failed"];
			return [];
		},

		/**
		 * Claims the payment (compare-and-set from `from` to "processing": exactly one charge runs),
		 * asks the provider, stores the outcome and announces it. null when the claim failed.
		 * The claim removes the staged token: it is used for this one attempt, whatever its outcome.
		 */
		async charge(
			this: any,
			ctx: Ctx,
			payment: Doc,
			from: string[],
			method: string,
			token?: string | null | (() => Promise<string | null>),
		) {
			if (from.length === 0) return null;
			const claimed = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: { $in: from } },
				{
					$set: { status: "processing", method, updatedAt: nowIso() },
					$inc: { attempts: 1 },
				},
			);
			if (!claimed) return null;
			// Only the claimer takes a token that waits on the order.
			const result = await this.askProvider(claimed, method, typeof token === "function" ? await token() : token);
			const settled = await this.applyCharge(ctx, claimed, result);
			await this.announceIfSilent(ctx, settled);
			if (settled.status === "pending") this.scheduleAutoPix(settled._id);
			if (settled.orderCancelled) await this.settleCancelled(ctx, settled, "order cancelled while paying");
			return settled;
		},

		async askProvider(this: any, payment: Doc, method: string, token?: string | null): Promise<ChargeResult> {
			const provider: PaymentProvider = this.provider;
			try {
				return await withTimeout(this.settings.providerTimeoutMs, (signal) =>
					provider.charge({
						paymentId: payment._id,
						orderId: payment.orderId,
						amountCents: payment.amountCents,
						method: method as any,
						token,
						signal,
					}),
				);
			} catch (err: any) {
				const reason = err instanceof ProviderTimeoutError ? "timeout" : "provider_error";
				this.logger.warn({ paymentId: payment._id, orderId: payment.orderId }, `Charge failed: ${err.message}`);
				return { status: "declined", providerRef: "", reason };
			}
		},

		async applyCharge(this: any, ctx: Ctx, payment: Doc, result: ChargeResult): Promise<Doc> {
			const now = nowIso();
			const status = result.status === "declined" ? "failed" : result.status;
			const set: Doc = { status, providerRef: result.providerRef, updatedAt: now };
			if (result.status === "captured") set.capturedCents = payment.amountCents;
			if (result.status === "pending") set.pixCode = result.pixCode;
			if (result.status === "declined") set.failureReason = result.reason;
			const transaction = {
				id: newId(),
				kind: "charge",
				method: payment.method,
				status,
				amountCents: payment.amountCents,
				providerRef: result.providerRef,
				at: now,
				...(result.status === "declined" ? { reason: result.reason } : {}),
			};
			const updated = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: "processing" },
				{ $set: set, $push: { transactions: transaction } },
			);
			return updated || this.findEntity(payment._id);
		},

		/** Publishes the payment's current outcome unless that was already done (redelivery-safe). */
		async announceIfSilent(this: any, ctx: Ctx, payment: Doc) {
			const outcome = payment.status;
			if (!["captured", "authorized", "pending", "failed"].includes(outcome) || payment.announced === outcome) return;
			const data = {
				paymentId: payment._id,
				orderId: payment.orderId,
				customerId: payment.customerId,
				supplierId: payment.supplierId,
				amountCents: payment.amountCents,
				method: payment.method,
			};
			if (outcome === "failed")
				await this.publishEvent("payment.failed", { ...data, reason: payment.failureReason }, ctx);
			else
				await this.publishEvent(
					"payment.processed",
					{ ...data, status: outcome, ...(payment.pixCode ? { pixCode: payment.pixCode } : {}) },
					ctx,
				);
			await this.compareAndSet(ctx, { _id: payment._id }, { $set: { announced: outcome } });
		},

		/** The order was cancelled: refund what was captured, void what was only promised. */
		async settleCancelled(this: any, ctx: Ctx, payment: Doc, reason: string) {
			const marked =
				(await this.compareAndSet(ctx, { _id: payment._id }, { $set: { orderCancelled: true } })) || payment;
			if (REFUNDABLE.includes(marked.status)) return this.refundRemainder(ctx, marked, reason || "order cancelled");
			const voided = await this.compareAndSet(
				ctx,
				{ _id: marked._id, status: { $in: ["new", "authorized", "pending"] } },
				{
					$set: { status: "voided", updatedAt: nowIso() },
					$push: { transactions: { id: newId(), kind: "void", status: "voided", amountCents: 0, at: nowIso() } },
				},
			);
			if (voided && voided.providerRef)
				await this.provider.void({ paymentId: voided._id, providerRef: voided.providerRef });
		},

		/** The automatic refund of a cancelled order's payment: claimed once, whatever the redelivery. */
		async refundRemainder(this: any, ctx: Ctx, payment: Doc, reason: string) {
			const claimed = await this.compareAndSet(
				ctx,
				{ _id: payment._id, autoRefunded: { $ne: true }, status: { $in: REFUNDABLE } },
				{ $set: { autoRefunded: true } },
			);
			if (!claimed) return;
			const amount = refundableCents(claimed);
			if (amount > 0) await this.refund(ctx, claimed, amount, reason, "system");
		},

		/**
		 * Refunds `amountCents`: first reserved atomically against what is left (so concurrent partial
		 * refunds never exceed the captured amount), then asked of the provider, then written to the ledger.
		 */
		async refund(this: any, ctx: Ctx, payment: Doc, amountCents: number, reason: string, by: string) {
			const refundId = newId();
			const reserved = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: { $in: REFUNDABLE }, refundedCents: { $lte: payment.capturedCents - amountCents } },
				{ $inc: { refundedCents: amountCents } },
			);
			if (!reserved)
				throw new Errors.MoleculerClientError(
					"A refund cannot exceed what is left of the payment",
					409,
					"REFUND_EXCEEDS_PAID",
					{
						refundableCents: refundableCents(await this.findEntity(payment._id)),
					},
				);
			const entry = { id: refundId, kind: "refund", amountCents, reason, by, at: nowIso() };
			let providerRef: string;
			try {
				({ providerRef } = await this.provider.refund({
					paymentId: payment._id,
					providerRef: payment.providerRef,
					refundId,
					amountCents,
				}));
			} catch (err: any) {
				await this.settleRefund(ctx, payment._id, -amountCents, {
					$push: { transactions: { ...entry, status: "failed", error: err.message } },
				});
				throw new Errors.MoleculerError("The payment provider refused the refund", 502, "REFUND_FAILED");
			}
			const final = await this.settleRefund(ctx, payment._id, 0, {
				$push: { transactions: { ...entry, status: "succeeded", providerRef } },
			});
			const fullyRefunded = final.status === "refunded";
			await this.publishEvent(
				"refund.processed",
				{
					paymentId: payment._id,
					refundId,
					orderId: payment.orderId,
					customerId: payment.customerId,
					amountCents,
					fullyRefunded,
					reason,
				},
				ctx,
			);
			return final;
		},

		/**
		 * Writes a refund's outcome (ledger entry, `refundedDelta` to undo a failed one) together with the
		 * status for the resulting total, in one compare-and-set on the total and status just read: a
		 * concurrent refund in between makes it read again, so the last write always has the right status.
		 */
		async settleRefund(this: any, ctx: Ctx, paymentId: string, refundedDelta: number, update: Doc): Promise<Doc> {
			for (;;) {
				const current = await this.getEntityOr404(paymentId, "payment");
				const refundedCents = current.refundedCents + refundedDelta;
				const status = refundStatus(current.capturedCents, refundedCents, current.status);
				const updated = await this.compareAndSet(
					ctx,
					{ _id: paymentId, refundedCents: current.refundedCents, status: current.status },
					{
						...update,
						$set: { status, updatedAt: nowIso() },
						...(refundedDelta ? { $inc: { refundedCents: refundedDelta } } : {}),
					},
				);
				if (updated) return updated;
			}
		},

		async confirmPix(this: any, ctx: Ctx | null, paymentId: string) {
			const now = nowIso();
			const payment = await this.findEntity(paymentId);
			if (!payment) return null;
			const confirmed = await this.compareAndSet(
				ctx,
				{ _id: paymentId, status: "pending", method: "pix" },
				{
					$set: { status: "captured", capturedCents: payment.amountCents, updatedAt: now },
					$push: {
						transactions: {
							id: newId(),
							kind: "charge",
							method: "pix",
							status: "captured",
							amountCents: payment.amountCents,
							at: now,
						},
					},
				},
			);
			if (!confirmed) return null;
			await this.announceIfSilent(ctx, confirmed);
			if (confirmed.orderCancelled) await this.settleCancelled(ctx, confirmed, "order cancelled before PIX was paid");
			return confirmed;
		},

		/** The simulated provider "receives" the PIX transfer a little later. */
		scheduleAutoPix(this: any, paymentId: string) {
			if (this.settings.provider !== "simulated" || !(this.settings.pixAutoConfirmMs > 0)) return;
			const timer = setTimeout(() => {
				this.pixTimers.delete(timer);
				this.confirmPix(null, paymentId).catch((err: Error) =>
					this.logger.error(`PIX auto-confirm failed: ${err.message}`),
				);
			}, this.settings.pixAutoConfirmMs);
			this.pixTimers.add(timer);
		},

		async captureCash(this: any, ctx: Ctx, orderId: string) {
			const payment = await this.findOneEntity({ orderId });
			if (!payment || payment.method !== "cash") return;
			const now = nowIso();
			const captured = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: "authorized" },
				{
					$set: { status: "captured", capturedCents: payment.amountCents, updatedAt: now },
					$push: {
						transactions: {
							id: newId(),
							kind: "capture",
							method: "cash",
							status: "captured",
							amountCents: payment.amountCents,
							at: now,
						},
					},
				},
			);
			if (!captured) return;
			await this.provider.capture({
				paymentId: payment._id,
				providerRef: payment.providerRef,
				amountCents: payment.amountCents,
			});
			await this.announceIfSilent(ctx, captured);
		},

		async reconcile(this: any, ctx: Ctx | null, graceMs: number) {
			// The newest payments: what the saga may have left unfinished is recent.
			const payments: Doc[] = await this.findEntities({ query: {}, sort: ["-createdAt"], limit: 5000 });
			const mismatches: Doc[] = [];
			for (let i = 0; i < payments.length; i += 1000) {
				const batch = payments.slice(i, i + 1000);
				const orders: Doc[] = await this.broker.call("orders.statusesFor", { orderIds: batch.map((p) => p.orderId) });
				const byId = new Map(orders.map((o) => [o.orderId, o]));
				for (const p of batch) {
					const problems = reconciliationProblems(
						(byId.get(p.orderId) as OrderState) || null,
						{ ...p, paymentId: p._id } as PaymentState,
						new Date(),
						graceMs,
					);
					for (const problem of problems) mismatches.push({ orderId: p.orderId, paymentId: p._id, problem });
				}
			}
			mismatches.push(...(await this.ordersWithoutPayment(payments, graceMs)));
			for (const m of mismatches) await this.publishEvent("reconciliation.mismatch", m, ctx);
			if (mismatches.length) this.logger.warn(`Reconciliation found ${mismatches.length} mismatch(es)`);
			return { checked: payments.length, mismatches };
		},

		/** Orders of the last day still `created` with no payment at all (order.created lost or never handled). */
		async ordersWithoutPayment(this: any, payments: Doc[], graceMs: number): Promise<Doc[]> {
			const since = new Date(Date.now() - 24 * 3600_000).toISOString();
			const orderIds: string[] = await this.broker.call("orders.changedSince", { since, limit: 5000 });
			const seen = new Set(payments.map((p) => p.orderId));
			const unseen = orderIds.filter((orderId) => !seen.has(orderId));
			const paid = new Set(
				(await this.findEntities({ query: { orderId: { $in: unseen } } })).map((p: Doc) => p.orderId),
			);
			const unpaidIds = unseen.filter((orderId) => !paid.has(orderId));
			const found: Doc[] = [];
			for (let i = 0; i < unpaidIds.length; i += 1000) {
				const orders: Doc[] = await this.broker.call("orders.statusesFor", { orderIds: unpaidIds.slice(i, i + 1000) });
				for (const o of orders)
					if (orderWithoutPayment(o as OrderState, false, new Date(), graceMs))
						found.push({ orderId: o.orderId, paymentId: null, problem: "order_without_payment" });
			}
			return found;
		},

		paymentView(this: any, payment: Doc) {
			return this.toPublic(payment, HIDDEN_FIELDS);
		},
	},

	created(this: any) {
		// Read when the service is created (not when the module loads), so each broker gets its environment.
		Object.assign(this.settings, config().payments);
		this.provider = providerFor(this.settings.provider);
		this.pixTimers = new Set();
	},

	started(this: any) {
		const every = this.settings.reconcileIntervalMs;
		if (every > 0)
			this.reconcileTimer = setInterval(() => {
				this.reconcile(null, this.settings.reconcileGraceMs).catch((err: Error) =>
					this.logger.warn(`Reconciliation failed: ${err.message}`),
				);
			}, every);
	},

	stopped(this: any) {
		if (this.reconcileTimer) clearInterval(this.reconcileTimer);
		for (const timer of this.pixTimers) clearTimeout(timer);
		this.pixTimers.clear();
	},
};

export = PaymentsService;
