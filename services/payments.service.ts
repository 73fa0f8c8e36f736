/**
 * Payments: one payment per order (unique orderId), charged through a PaymentProvider
 * (lib/infra/payment-provider.ts), with a ledger of transactions (charge, capture, refund, void).
 * States and transitions: lib/domain/payment-status.ts; refund and reconciliation rules:
 * lib/domain/payments.ts.
 *
 * Saga: order.created → charge once → payment.processed (captured; authorized for cash; pending for
 * PIX) or payment.failed, recorded in the same write as the outcome (outbox). order.cancelled →
 * refund what was captured (once), or void an authorization / pending PIX. order.delivered →
 * capture cash. The token never travels in an event: the charging instance takes it from orders
 * (orders.takePaymentToken), which hands it over once.
 *
 * Safe to retry: a charge is written `processing` with its idempotency key (`charge:<paymentId>`)
 * BEFORE the provider is called; the provider never charges a key twice and answers `status(key)`.
 * A refund carries `refund:<refundId>` the same way.
 *
 * Reconciliation (payments.reconcile; at start-up and every RECONCILE_INTERVAL_MS, 0 = off) compares
 * every payment with its order (orders.statusesFor) and repairs what it safely can: see
 * services/parts/payments/reconciliation.ts. What it cannot repair is published as reconciliation.mismatch.
 *
 * Test cards of the simulated provider (PAYMENT_PROVIDER=simulated): 4242424242424242 captured ·
 * 4000000000000002 declined · 4000000000009995 insufficient_funds · 4000000000009999 no answer
 * (fails with "timeout" after PAYMENT_PROVIDER_TIMEOUT_MS). PIX is confirmed after PIX_AUTO_CONFIRM_MS
 * or by payments.confirmPix, and expires after PIX_EXPIRY_MS; a PIX left pending by a restart (its
 * timer gone) is settled by reconciliation, which asks the provider; cash is captured on delivery.
 */
import { chargeTransaction } from "./parts/payments/transactions";
import { ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMixin } from "../mixins/events.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { PendingEvent } from "../lib/contracts/events";
import type {
	ConfirmPixParams,
	ForOrderParams,
	ListPaymentsParams,
	OrderStatusRow,
	PayParams,
	Payment,
	PaymentSummary,
	PaymentView,
	ProviderKeyRecord,
	ReconcileParams,
	ReconcileReport,
	RefundParams,
} from "../lib/contracts/payments";
import { idParam, pageParams } from "../lib/contracts/params";
import { chargeKey, PaymentStatus, REFUNDABLE, retryableFrom, statusAfterCharge } from "../lib/domain/payment-status";
import { refundableCents } from "../lib/domain/payments";
import { config } from "../lib/infra/config";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { collectionKeyStore } from "../lib/infra/payment-keys";
import { CardTokenParams, cardTokenParams, tokenizeCard } from "./parts/payments/card-tokens";
import {
	ChargeResult,
	PaymentMethod,
	PaymentProvider,
	ProviderTimeoutError,
	SimulatedProvider,
	withTimeout,
} from "../lib/infra/payment-provider";
import { Collection, Filter } from "../lib/infra/store/types";
import { reconciliationMethods } from "./parts/payments/reconciliation";
import { refundMethods } from "./parts/payments/refunds";

import type { AnyCtx, PaymentSource, PaymentsThis as ThisService, Settings, TokenSource } from "./parts/payments/types";

const HIDDEN: ("pendingToken" | "autoRefunded")[] = ["pendingToken", "autoRefunded"];

function providerFor(
	settings: Pick<Settings, "provider" | "pixAutoConfirmMs" | "pixExpiryMs">,
	keys: () => Collection<ProviderKeyRecord>,
): PaymentProvider {
	const name = settings.provider;
	if (name === "simulated")
		return new SimulatedProvider(collectionKeyStore(keys), {
			pixAutoConfirmMs: settings.pixAutoConfirmMs,
			pixExpiryMs: settings.pixExpiryMs,
		});
	throw new Error(`Unknown PAYMENT_PROVIDER '${name}' (available: simulated)`);
}

const businessEvents: BusinessEventHandlers<ThisService> = {
	async "order.created"(envelope, ctx) {
		const order = envelope.data;
		const payment = await this.ensurePayment(ctx, order);
		if (payment.status !== "new") return; // charged already (a redelivery)
		const token = order.hasPaymentToken ? () => this.takePaymentToken(ctx, order.orderId) : null;
		await this.charge(ctx, payment, ["new"], order.paymentMethod as PaymentMethod, token);
	},
	async "order.cancelled"(envelope, ctx) {
		// A payment voided at once if payments never saw the order: a late order.created charges nothing.
		const payment = await this.ensurePayment(ctx, envelope.data, "voided");
		await this.settleCancelled(ctx, payment, envelope.data.reason);
	},
	async "order.delivered"(envelope, ctx) {
		await this.captureCash(ctx, envelope.data.orderId);
	},
};

const PaymentsService: ServiceSchema<Settings, ThisService> = {
	name: "payments",
	// EventsMixin first: Moleculer runs the last mixin's started() first, and the events mixin needs
	// DbMixin's store opened to use its outbox (listed the other way round, it falls back to an
	// in-memory outbox that events recorded with writes never reach).
	mixins: [
		EventsMixin,
		DbMixin<Payment>({
			collection: "payments",
			indexes: [{ fields: { orderId: 1 }, unique: true }, { fields: { customerId: 1 } }, { fields: { status: 1 } }],
			kinds: { provider_keys: {} },
		}),
	],
	// The rest is read from the environment when each service is created (see created()).
	settings: { rest: "/" } as Settings,

	actions: {
		pay: {
			rest: "POST /payments",
			auth: { roles: ["customer"] },
			params: {
				orderId: idParam,
				method: { type: "enum", values: ["card", "pix"], optional: true },
				paymentToken: { type: "string", min: 1, max: 200, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<PayParams>): Promise<PaymentView> {
				const order = await this.orderForPayment(ctx, ctx.params.orderId);
				const method = (ctx.params.method || order.paymentMethod) as PaymentMethod;
				if (method === "card" && !ctx.params.paymentToken)
					throw unprocessable("A card payment needs a paymentToken", { fields: ["paymentToken"] });
				const payment = await this.ensurePayment(ctx, order);
				const from = retryableFrom(payment.status, method, this.settings.retryGraceMs);
				const charged = await this.charge(ctx, payment, from, method, ctx.params.paymentToken);
				if (!charged) throw conflict(`This payment is ${payment.status}`, { status: payment.status });
				return this.paymentView(charged);
			},
		},

		/** The checkout's card form: card → the provider's opaque token (the number is never stored or logged). */
		tokenizeCard: {
			rest: "POST /payments/card-tokens",
			auth: { roles: ["customer"] },
			params: cardTokenParams,
			handler(this: ThisService, ctx: Ctx<CardTokenParams>) {
				return tokenizeCard(this.provider, ctx.params);
			},
		},

		list: {
			rest: "GET /payments",
			params: {
				orderId: { ...idParam, optional: true },
				status: { type: "string", max: 32, optional: true },
				...pageParams,
			},
			async handler(this: ThisService, ctx: Ctx<ListPaymentsParams>) {
				const { page, pageSize, orderId, status } = ctx.params;
				const me = ctx.meta.user!;
				const query: Filter = {};
				if (me.role === "customer") query.customerId = me.id;
				else if (me.role === "supplier") query.supplierId = me.id;
				else if (me.role !== "admin") throw forbidden("Couriers have no payments to see");
				if (orderId) query.orderId = orderId;
				if (status) query.status = status;
				const found = await this.paginate(query, { page, pageSize, sort: ["-createdAt"] });
				return { ...found, rows: found.rows.map((p) => this.paymentView(p)) };
			},
		},

		refund: {
			rest: "POST /payments/:id/refund",
			auth: { roles: ["admin"], mfa: true },
			params: {
				id: idParam,
				amountCents: { type: "number", integer: true, min: 1, max: 100_000_000, optional: true },
				reason: { type: "string", min: 1, max: 500, trim: true },
			},
			async handler(this: ThisService, ctx: Ctx<RefundParams>): Promise<PaymentView> {
				const payment = await this.getEntityOr404(ctx.params.id, "payment");
				const refundable = refundableCents(payment);
				if (!REFUNDABLE.includes(payment.status) || refundable <= 0)
					throw conflict("Nothing of this payment can be refunded", { status: payment.status, refundableCents: 0 });
				const amount = ctx.params.amountCents ?? refundable;
				return this.paymentView(await this.refund(ctx, payment, amount, ctx.params.reason, ctx.meta.user!.id));
			},
		},

		/** Internal: the PIX payment was paid (the provider's webhook would call this). */
		confirmPix: {
			visibility: "public",
			params: { paymentId: idParam },
			async handler(this: ThisService, ctx: Ctx<ConfirmPixParams>): Promise<PaymentView> {
				const confirmed = await this.confirmPix(ctx, ctx.params.paymentId);
				if (confirmed) return this.paymentView(confirmed);
				const payment = await this.getEntityOr404(ctx.params.paymentId, "payment");
				throw conflict(`This payment is ${payment.status}, not a pending PIX`, { status: payment.status });
			},
		},

		/** Internal (orders' repair job): the order's payment in short, or null. */
		forOrder: {
			visibility: "public",
			params: { orderId: idParam },
			async handler(this: ThisService, ctx: Ctx<ForOrderParams>): Promise<PaymentSummary | null> {
				const p = await this.findOneEntity({ orderId: ctx.params.orderId });
				return p && { paymentId: p._id, status: p.status, method: p.method, amountCents: p.amountCents };
			},
		},

		/** Internal: compare every payment with its order, repair what is safe, report the rest. */
		reconcile: {
			visibility: "public",
			params: { graceMs: { type: "number", integer: true, min: 0, optional: true } },
			async handler(this: ThisService, ctx: Ctx<ReconcileParams>): Promise<ReconcileReport> {
				return this.reconcile(ctx, ctx.params.graceMs ?? this.settings.reconcileGraceMs);
			},
		},
	},

	businessEvents,

	methods: {
		...reconciliationMethods,

		/** The order behind a customer's POST /api/payments: theirs, and still waiting for payment. */
		async orderForPayment(this: ThisService, ctx: AnyCtx, orderId: string): Promise<OrderStatusRow> {
			const [order] = await ctx.call<OrderStatusRow[], { orderIds: string[] }>("orders.statusesFor", {
				orderIds: [orderId],
			});
			if (!order) throw notFound("order", orderId);
			if (order.customerId !== ctx.meta.user!.id) throw forbidden("This is not your order");
			if (order.status !== "created") throw conflict(`This order is ${order.status}`, { status: order.status });
			return order;
		},

		async takePaymentToken(this: ThisService, ctx: AnyCtx, orderId: string): Promise<string | null> {
			const { paymentToken } = await ctx.call<{ paymentToken: string | null }, { orderId: string }>(
				"orders.takePaymentToken",
				{ orderId },
			);
			return paymentToken;
		},

		/** The order's one payment, created on first sight (from the event or a customer's POST). */
		async ensurePayment(
			this: ThisService,
			ctx: AnyCtx | null,
			order: PaymentSource,
			initialStatus: PaymentStatus = "new",
		) {
			const now = nowIso();
			const doc = {
				orderId: order.orderId,
				customerId: order.customerId,
				supplierId: order.supplierId,
				method: (order.paymentMethod ?? "unknown") as PaymentMethod | "unknown",
				amountCents: order.totalCents ?? 0,
				status: initialStatus,
				capturedCents: 0,
				refundedCents: 0,
				attempts: 0,
				transactions: [],
				createdAt: now,
				updatedAt: now,
			};
			return (await this.insertOrGet(ctx, doc, { orderId: order.orderId })).doc;
		},

		/**
		 * Claims the payment (compare-and-set from `from` to "processing" with the attempt's
		 * idempotency key: exactly one charge runs), keeps the token with it until the outcome, asks
		 * the provider and records the outcome with its event. null when the claim failed.
		 */
		async charge(
			this: ThisService,
			ctx: AnyCtx | null,
			payment: Payment,
			from: PaymentStatus[],
			method: PaymentMethod,
			token?: TokenSource,
		) {
			if (from.length === 0) return null;
			const attempt = payment.attempts + 1;
			const key = chargeKey(payment._id, attempt);
			const now = nowIso();
			const claimed = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: { $in: from }, attempts: payment.attempts },
				{
					$set: { status: "processing", method, chargeKey: key, processingSince: now, updatedAt: now },
					$inc: { attempts: 1 },
				},
			);
			if (!claimed) return null;
			// Only the claimer takes a token that waits on the order; it stays with the charge until its outcome.
			const value = typeof token === "function" ? await token() : (token ?? null);
			if (value) await this.compareAndSet(ctx, { _id: claimed._id, chargeKey: key }, { $set: { pendingToken: value } });
			const settled = await this.recordCharge(ctx, claimed, key, await this.askProvider(claimed, key, value));
			if (settled.status === "pending") this.scheduleAutoPix(settled._id);
			if (settled.orderCancelled) await this.settleCancelled(ctx, settled, "order cancelled while paying");
			return settled;
		},

		async askProvider(this: ThisService, payment: Payment, key: string, token: string | null): Promise<ChargeResult> {
			const method = payment.method;
			if (method === "unknown") return { status: "declined", providerRef: "", reason: "unknown_method" };
			const { _id: paymentId, orderId, amountCents } = payment;
			const request = { idempotencyKey: key, paymentId, orderId, amountCents, method, token };
			try {
				return await withTimeout(this.settings.providerTimeoutMs, (signal) =>
					this.provider.charge({ ...request, signal }),
				);
			} catch (err) {
				const timedOut = err instanceof ProviderTimeoutError;
				this.logger.warn(
					{ paymentId: payment._id, orderId: payment.orderId },
					`Charge failed: ${(err as Error).message}`,
				);
				// A late answer may have been recorded: the provider's memory of the key decides.
				const known = await this.provider.status(key).catch(() => ({ status: "unknown" as const }));
				if (known.status !== "unknown" && known.status !== "refunded") return known;
				return { status: "declined", providerRef: "", reason: timedOut ? "timeout" : "provider_error" };
			}
		},

		/** Writes the outcome of the charge `key` (still `processing`) with its event, in one write. */
		async recordCharge(this: ThisService, ctx: AnyCtx | null, payment: Payment, key: string, result: ChargeResult) {
			const now = nowIso();
			const status = statusAfterCharge(result.status);
			const set: Partial<Payment> = { status, providerRef: result.providerRef, updatedAt: now };
			if (result.status === "captured") set.capturedCents = payment.amountCents;
			if (result.status === "pending") set.pixCode = result.pixCode;
			if (result.status === "declined") set.failureReason = result.reason;
			const transaction = chargeTransaction({
				method: payment.method,
				status,
				amountCents: payment.amountCents,
				providerRef: result.providerRef,
				at: now,
				reason: result.status === "declined" ? result.reason : undefined,
			});
			const updated = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: "processing", chargeKey: key },
				{ $set: set, $unset: { pendingToken: 1 }, $push: { transactions: transaction } },
				this.outcomeEvent({ ...payment, ...set }),
			);
			return updated || this.getEntityOr404(payment._id, "payment");
		},

		/** payment.processed or payment.failed for the payment's current outcome. */
		outcomeEvent(this: ThisService, p: Payment): PendingEvent[] {
			const data = {
				paymentId: p._id,
				orderId: p.orderId,
				customerId: p.customerId,
				supplierId: p.supplierId,
				amountCents: p.amountCents,
				method: p.method,
			};
			if (p.status === "failed")
				return [{ type: "payment.failed", data: { ...data, reason: p.failureReason || "unknown" } }];
			if (p.status === "captured" || p.status === "authorized" || p.status === "pending")
				return [
					{
						type: "payment.processed",
						data: { ...data, status: p.status, ...(p.pixCode ? { pixCode: p.pixCode } : {}) },
					},
				];
			return [];
		},

		...refundMethods,

		async confirmPix(this: ThisService, ctx: AnyCtx | null, paymentId: string) {
			const now = nowIso();
			const payment = await this.findEntity(paymentId);
			if (!payment) return null;
			const set = { status: "captured" as const, capturedCents: payment.amountCents, updatedAt: now };
			const confirmed = await this.compareAndSet(
				ctx,
				{ _id: paymentId, status: "pending", method: "pix" },
				{
					$set: set,
					$push: {
						transactions: chargeTransaction({
							method: "pix",
							status: "captured",
							amountCents: payment.amountCents,
							at: now,
						}),
					},
				},
				this.outcomeEvent({ ...payment, ...set }),
			);
			if (confirmed?.orderCancelled) await this.settleCancelled(ctx, confirmed, "order cancelled before PIX was paid");
			return confirmed;
		},

		/** The simulated provider "receives" the PIX transfer a little later. */
		scheduleAutoPix(this: ThisService, paymentId: string) {
			if (this.settings.provider !== "simulated" || !(this.settings.pixAutoConfirmMs > 0)) return;
			const timer = setTimeout(() => {
				this.pixTimers.delete(timer);
				this.confirmPix(null, paymentId).catch((err: Error) =>
					this.logger.error(`[pix-auto-confirm] failed: ${err.message}`),
				);
			}, this.settings.pixAutoConfirmMs);
			this.pixTimers.add(timer);
		},

		async captureCash(this: ThisService, ctx: AnyCtx | null, orderId: string) {
			const payment = await this.findOneEntity({ orderId, method: "cash" });
			if (!payment) return;
			const now = nowIso();
			const set = { status: "captured" as const, capturedCents: payment.amountCents, updatedAt: now };
			const captured = await this.compareAndSet(
				ctx,
				{ _id: payment._id, status: "authorized" },
				{
					$set: set,
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
				this.outcomeEvent({ ...payment, ...set }),
			);
			if (captured)
				await this.provider.capture({
					paymentId: payment._id,
					providerRef: payment.providerRef || "",
					amountCents: payment.amountCents,
				});
		},

		paymentView(this: ThisService, payment: Payment): PaymentView {
			return this.toPublic(payment, HIDDEN);
		},
	},

	created(this: ThisService) {
		// Read when the service is created (not when the module loads), so each broker gets its environment.
		Object.assign(this.settings, config().payments);
		this.provider = providerFor(this.settings, () => this.kind<ProviderKeyRecord>("provider_keys"));
		this.pixTimers = new Set();
	},

	started(this: ThisService) {
		this.startReconciliation();
	},

	async stopped(this: ThisService) {
		await this.stopReconciliation();
		for (const timer of this.pixTimers) clearTimeout(timer);
		this.pixTimers.clear();
	},
};

export = PaymentsService;
