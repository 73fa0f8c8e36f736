/**
 * Payments' cancellations and refunds: methods of the payments service (mixed into its `methods`),
 * kept apart so the service file stays readable. Amount and status rules: lib/domain/payments.ts.
 *
 * A refund is reserved against what is left (concurrent partial refunds never exceed the captured
 * amount) and marked in flight, sent to the provider under `refund:<refundId>`, then its outcome is
 * written with refund.processed in one write. A refund id seen again is refunded once.
 */
import { appError, clientError } from "../../../lib/infra/errors";
import type { Payment } from "../../../lib/contracts/payments";
import { cancellationRefundId, REFUNDABLE, refundKey, VOIDABLE } from "../../../lib/domain/payment-status";
import { refundableCents, refundStatus } from "../../../lib/domain/payments";
import { newId, nowIso } from "../../../lib/infra/ids";
import type { PendingEvent } from "../../../lib/contracts/events";
import type { Filter, UpdateSpec } from "../../../lib/infra/store/types";
import type { AnyCtx, OwnMethods, PaymentsThis as ThisService } from "./types";

const ACTIVE_REFUND = (id: string) => `refundsInFlight.${id}`;

type RefundMethods = Pick<OwnMethods, "settleCancelled" | "refundRemainder" | "refund" | "settleRefund">;

export const refundMethods: RefundMethods & ThisType<ThisService> = {
	/** The order was cancelled: refund what was captured, void what was only promised. */
	async settleCancelled(this: ThisService, ctx: AnyCtx | null, payment: Payment, reason: string | null) {
		const marked = (await this.compareAndSet(ctx, { _id: payment._id }, { $set: { orderCancelled: true } })) || payment;
		if (REFUNDABLE.includes(marked.status)) {
			await this.refundRemainder(ctx, marked, reason || "order cancelled");
			return;
		}
		const now = nowIso();
		const voided = await this.compareAndSet(
			ctx,
			{ _id: marked._id, status: { $in: [...VOIDABLE] } },
			{
				$set: { status: "voided", updatedAt: now },
				$push: { transactions: { id: newId(), kind: "void", status: "voided", amountCents: 0, at: now } },
			},
		);
		if (voided && voided.providerRef)
			await this.provider.void({ paymentId: voided._id, providerRef: voided.providerRef });
	},

	/**
	 * The automatic refund of a cancelled order's payment, under a fixed refund id (so a retry after
	 * a crash refunds once): claimed once, or again by reconciliation (`again`).
	 */
	async refundRemainder(this: ThisService, ctx: AnyCtx | null, payment: Payment, reason: string, again = false) {
		const query: Filter = { _id: payment._id, status: { $in: [...REFUNDABLE] } };
		if (!again) query.autoRefunded = { $ne: true };
		const claimed = await this.compareAndSet(ctx, query, { $set: { autoRefunded: true } });
		if (!claimed) return null;
		const refundId = cancellationRefundId(claimed._id);
		const inFlight = claimed.refundsInFlight?.[refundId];
		const amount = inFlight ? inFlight.amountCents : refundableCents(claimed);
		return amount > 0 ? this.refund(ctx, claimed, amount, reason, "system", refundId) : null;
	},

	/**
	 * Refunds `amountCents`: reserved atomically against what is left (concurrent partial refunds
	 * never exceed the captured amount) and marked in flight, asked of the provider with the refund's
	 * idempotency key, then the outcome written with refund.processed. A refund already in flight
	 * (a retry) is asked again under the same key: the provider refunds it once.
	 */
	async refund(
		this: ThisService,
		ctx: AnyCtx | null,
		payment: Payment,
		amountCents: number,
		reason: string,
		by: string,
		refundId = newId(),
	) {
		// The same refund again (a retry): it is done, nothing more to refund.
		if (payment.transactions.some((t) => t.kind === "refund" && t.id === refundId && t.status === "succeeded"))
			return payment;
		if (!payment.refundsInFlight?.[refundId]) {
			const reserved = await this.compareAndSet(
				ctx,
				{
					_id: payment._id,
					status: { $in: [...REFUNDABLE] },
					refundedCents: { $lte: payment.capturedCents - amountCents },
					[ACTIVE_REFUND(refundId)]: { $exists: false },
				},
				{
					$inc: { refundedCents: amountCents },
					$set: { [ACTIVE_REFUND(refundId)]: { amountCents, reason, by, at: nowIso() } },
				},
			);
			if (!reserved) {
				const now = await this.getEntityOr404(payment._id, "payment");
				throw clientError("REFUND_EXCEEDS_PAID", undefined, { refundableCents: refundableCents(now) });
			}
		}
		const entry = { id: refundId, kind: "refund" as const, amountCents, reason, by, at: nowIso() };
		const done = { $unset: { [ACTIVE_REFUND(refundId)]: 1 } };
		let providerRef: string;
		try {
			({ providerRef } = await this.provider.refund({
				idempotencyKey: refundKey(refundId),
				paymentId: payment._id,
				providerRef: payment.providerRef || "",
				refundId,
				amountCents,
			}));
		} catch (err) {
			await this.settleRefund(ctx, payment._id, -amountCents, {
				...done,
				$push: { transactions: { ...entry, status: "failed", error: (err as Error).message } },
			});
			throw appError("REFUND_FAILED");
		}
		return this.settleRefund(
			ctx,
			payment._id,
			0,
			{ ...done, $push: { transactions: { ...entry, status: "succeeded", providerRef } } },
			(p) => [
				{
					type: "refund.processed",
					data: {
						paymentId: p._id,
						refundId,
						orderId: p.orderId,
						customerId: p.customerId,
						amountCents,
						fullyRefunded: p.status === "refunded",
						reason,
					},
				},
			],
		);
	},

	/**
	 * Writes a refund's outcome (`delta` undoes a failed one) with the status for the resulting total
	 * and its events, in one compare-and-set on the total and status just read (read again on a race).
	 */
	async settleRefund(
		this: ThisService,
		ctx: AnyCtx | null,
		paymentId: string,
		delta: number,
		update: UpdateSpec,
		events?: (p: Payment) => PendingEvent[],
	) {
		for (;;) {
			const current = await this.getEntityOr404(paymentId, "payment");
			const status = refundStatus(current.capturedCents, current.refundedCents + delta, current.status);
			const updated = await this.compareAndSet(
				ctx,
				{ _id: paymentId, refundedCents: current.refundedCents, status: current.status },
				{ ...update, $set: { status, updatedAt: nowIso() }, ...(delta ? { $inc: { refundedCents: delta } } : {}) },
				events?.({ ...current, status }),
			);
			if (updated) return updated;
		}
	},
};
