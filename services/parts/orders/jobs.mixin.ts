/**
 * The orders service's jobs, run by TimersMixin (each named in its log lines, never overlapping
 * itself, stopped with the service, which waits for a run still going):
 *
 * - "payment-deadline" (every ORDER_PAYMENT_DEADLINE_MS / 2, at most 30 s, and once at start-up when
 *   every local service has started):
 *   orders still `created` past the deadline are checked with payments (payments.forOrder) and
 *   confirmed (captured / authorized), left (pending / processing: payments resolves them) or
 *   cancelled with reason "payment_timeout" (no payment, failed), by the same transitions as the
 *   payment events; stock calls still owed (`stockAction`) are retried. A PIX order is payable until
 *   PIX_EXPIRY_MS: it waits for its customer until then (even with no PIX issued yet), and is
 *   cancelled after it if its PIX is still pending. Each repair is logged, counted in
 *   gasrapido_repairs_total{kind} and recorded as reconciliation.mismatch with the write.
 * - "unpaid-sweep" (PAYMENT_RETRY_GRACE_MS > 0): cancels orders whose payment failed and whose retry
 *   window has closed.
 */
import { Context, Endpoint, ServiceSchema } from "moleculer";
import type { PaymentForOrder, StockAction } from "../../../lib/contracts/orders";
import type { PendingEvent } from "../../../lib/contracts/events";
import { paymentRepairFor } from "../../../lib/domain/orders";
import { pixExpired } from "../../../lib/domain/payments";
import { isPaymentStatus } from "../../../lib/domain/payment-status";
import { newId, nowIso } from "../../../lib/infra/ids";
import { countRepair, registerRepairMetric } from "../../../lib/infra/repairs";
import { TimerJobs, whenBrokerStarted } from "../../../mixins/timers.mixin";
import type { OwnMethods, Settings, ThisService } from "./types";

/** A context for jobs: no caller, no endpoint. */
const jobContext = (service: ThisService): Context =>
	Context.create(service.broker, null as unknown as Endpoint, {}, { requestID: `job-${newId()}` });

/** Half the job's window, from 50 ms to 30 s; 0 (off) when the window is. */
const jobInterval = (windowMs: number) => (windowMs > 0 ? Math.max(50, Math.min(windowMs / 2, 30_000)) : 0);

/** How many things a run handled, logged when not 0. */
async function logHandled(service: ThisService, job: string, run: Promise<number>): Promise<void> {
	const handled = await run;
	if (handled) service.logger.info(`[${job}] handled ${handled}`);
}

const schema: Partial<ServiceSchema<Settings, ThisService>> & { timers: TimerJobs<ThisService> } = {
	methods: {
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
				// Named values, not $exists: the planner then takes the sparse stockAction index instead
				// of walking every order older than the cut-off on the updatedAt index.
				query: {
					stockAction: { $in: ["release", "commit"] satisfies StockAction[] },
					updatedAt: { $lte: ago(this.cfg.paymentDeadlineMs / 4) },
				},
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
			const payment = await ctx.call<PaymentForOrder | null, { orderId: string }>("payments.forOrder", {
				orderId: order._id,
			});
			const retryOpen = Date.parse(order.paymentRetryUntil || "") > Date.now();
			const pix =
				order.paymentMethod === "pix"
					? pixExpired(order.createdAt, new Date(), this.cfg.pixExpiryMs)
						? "expired"
						: "waiting"
					: undefined;
			const repair = paymentRepairFor(payment, retryOpen, pix);
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
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,

	timers: {
		"unpaid-sweep": {
			everyMs() {
				return jobInterval(this.cfg.paymentRetryGraceMs);
			},
			run() {
				return logHandled(this, "unpaid-sweep", this.cancelUnpaidOrders());
			},
		},
		"payment-deadline": {
			everyMs() {
				return jobInterval(this.cfg.paymentDeadlineMs);
			},
			// Once at start-up too (the periodic run covers the rest), when every local service is up.
			runAtStart: true,
			startDelay() {
				return whenBrokerStarted(this.broker);
			},
			async run() {
				if (this.cfg.paymentDeadlineMs > 0) await logHandled(this, "payment-deadline", this.repairStuckOrders());
			},
		},
	} satisfies TimerJobs<ThisService>,

	started(this: ThisService) {
		registerRepairMetric(this.broker);
	},
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const OrderJobsMixin = schema as unknown as Partial<ServiceSchema>;
