/** The entries payments append to a payment's `transactions` history. */
import type { PaymentTransaction } from "../../../lib/contracts/payments";
import { newId } from "../../../lib/infra/ids";

/** One charge attempt's outcome, as recorded on the payment (a reason only when there is one). */
export function chargeTransaction(
	fields: Pick<PaymentTransaction, "method" | "status" | "amountCents" | "at"> &
		Partial<Pick<PaymentTransaction, "providerRef" | "reason">>,
): PaymentTransaction {
	const { reason, ...rest } = fields;
	return { id: newId(), kind: "charge", ...rest, ...(reason !== undefined ? { reason } : {}) };
}
