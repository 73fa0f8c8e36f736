/**
 * Payments' charge path: methods of the payments service (mixed into its `methods`), kept apart so
 * the service file stays readable. Statuses: lib/domain/payment-status.ts; the outcome's event:
 * lib/domain/payments.ts `outcomeEvents`.
 *
 * A charge is claimed first (compare-and-set to `processing` with the attempt's idempotency key
 * `charge:<paymentId>:<attempt>`: exactly one charge runs), then the provider is asked under that
 * key, and the outcome is written with payment.processed / payment.failed in one write. The
 * provider never charges a key twice, so a crash anywhere in between is settled by asking again.
 */
import type { Payment } from "../../../lib/contracts/payments";
import { chargeKey, PaymentStatus, statusAfterCharge } from "../../../lib/domain/payment-status";
import { outcomeEvents } from "../../../lib/domain/payments";
import { nowIso } from "../../../lib/infra/ids";
import { ChargeResult, PaymentMethod, ProviderTimeoutError, withTimeout } from "../../../lib/infra/payment-provider";
import { chargeTransaction } from "./transactions";
import type { AnyCtx, OwnMethods, PaymentsThis as ThisService, TokenSource } from "./types";

type ChargeMethods = Pick<OwnMethods, "charge" | "askProvider" | "recordCharge">;

export const chargeMethods: ChargeMethods & ThisType<ThisService> = {
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
		if (method === "voucher") return this.redeemVoucher(payment, token);
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
			outcomeEvents({ ...payment, ...set }),
		);
		return updated || this.getEntityOr404(payment._id, "payment");
	},
};
