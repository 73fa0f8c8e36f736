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
import { ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
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
import { PaymentStatus, REFUNDABLE, retryableFrom } from "../lib/domain/payment-status";
import { outcomeEvents, refundableCents } from "../lib/domain/payments";
import { config } from "../lib/infra/config";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { collectionKeyStore } from "../lib/infra/payment-keys";
import { registerRepairMetric } from "../lib/infra/repairs";
import { PaymentMethod, providerFor } from "../lib/infra/payment-provider";
import { Filter } from "../lib/infra/store/types";
import { chargeMethods } from "./parts/payments/charges";
import { RECONCILE_STARTUP_DELAY_MS, reconciliationMethods } from "./parts/payments/reconciliation";
import { CardTokenParams, cardTokenParams, tokenizeCard } from "./parts/payments/card-tokens";
import { refundMethods } from "./parts/payments/refunds";
import { chargeTransaction } from "./parts/payments/transactions";
import type { AnyCtx, PaymentSource, PaymentsThis as ThisService, Settings } from "./parts/payments/types";
import { voucherMethods } from "./parts/payments/vouchers";

const HIDDEN: ("pendingToken" | "autoRefunded")[] = ["pendingToken", "autoRefunded"];

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
		TimersMixin,
		EventsMixin,
		DbMixin<Payment>({
			collection: "payments",
			indexes: [
				{ fields: { orderId: 1 }, unique: true },
				{ fields: { customerId: 1 } },
				{ fields: { status: 1 } },
				// Reconciliation reads the newest payments: an index walk, not a sort of every payment.
				{ fields: { createdAt: -1 } },
			],
			kinds: { provider_keys: {} },
			// The card token of a charge in flight is encrypted at rest (and unset with its outcome).
			sealed: ["pendingToken"],
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

		...chargeMethods,
		...refundMethods,
		...voucherMethods,

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
				outcomeEvents({ ...payment, ...set }),
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
			const payment = await this.findOneEntity({ orderId, method: { $in: ["cash", "voucher"] } });
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
							method: payment.method,
							status: "captured",
							amountCents: payment.amountCents,
							at: now,
						},
					},
				},
				outcomeEvents({ ...payment, ...set }),
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
		this.provider = providerFor(
			this.settings,
			collectionKeyStore(() => this.kind<ProviderKeyRecord>("provider_keys")),
		);
		this.pixTimers = new Set();
	},

	started(this: ThisService) {
		registerRepairMetric(this.broker);
	},

	// TimersMixin: a pass shortly after start-up (not blocking it), then every RECONCILE_INTERVAL_MS
	// (0 = off); never two at a time, and stopping waits for a pass still going.
	timers: {
		reconcile: {
			everyMs() {
				return this.settings.reconcileIntervalMs;
			},
			runAtStart: true,
			startDelay: RECONCILE_STARTUP_DELAY_MS,
			run() {
				return this.runReconciliation();
			},
		},
	} satisfies TimerJobs<ThisService>,

	stopped(this: ThisService) {
		for (const timer of this.pixTimers) clearTimeout(timer);
		this.pixTimers.clear();
	},
};

export = PaymentsService;
