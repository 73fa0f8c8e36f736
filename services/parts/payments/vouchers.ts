/**
 * Payments' side of Gás do Povo: an order paid with a voucher is not sent to the payment provider;
 * its token (a voucher claim, see services/vouchers.service.ts) is redeemed by the vouchers service,
 * once per voucher. A redeemed voucher authorizes the payment (like cash: captured on delivery,
 * voided when the order is cancelled, and the vouchers service then releases the voucher).
 */
import type { RedeemParams, RedeemResult } from "../../../lib/contracts/vouchers";
import type { Payment } from "../../../lib/contracts/payments";
import type { ChargeResult } from "../../../lib/infra/payment-provider";
import type { PaymentsThis } from "./types";

export interface VoucherMethods {
	redeemVoucher(payment: Payment, token: string | null): Promise<ChargeResult>;
}

export const voucherMethods: VoucherMethods & ThisType<PaymentsThis> = {
	async redeemVoucher(this: PaymentsThis, payment: Payment, token: string | null): Promise<ChargeResult> {
		if (!token) return { status: "declined", providerRef: "", reason: "voucher_missing" };
		try {
			const result = await this.broker.call<RedeemResult, RedeemParams>("vouchers.redeem", {
				token,
				orderId: payment.orderId,
				paymentId: payment._id,
				customerId: payment.customerId,
				supplierId: payment.supplierId,
				amountCents: payment.amountCents,
			});
			return result.ok
				? { status: "authorized", providerRef: `voucher:${result.voucherId}` }
				: { status: "declined", providerRef: "", reason: `voucher_${result.reason}` };
		} catch (err) {
			this.logger.warn(
				{ paymentId: payment._id, orderId: payment.orderId },
				`Voucher redemption failed: ${(err as Error).message}`,
			);
			return { status: "declined", providerRef: "", reason: "voucher_unavailable" };
		}
	},
};
