/**
 * Reasons in words: payment failures and cancellation reasons as the services record them
 * (`payment_failed: card_declined`, `payment_timeout`…) → a sentence in pt-BR (or English).
 */
import { t } from "./ui.js";

const PAYMENT = {
	card_declined: ["o banco recusou o cartão", "the bank declined the card"],
	insufficient_funds: ["o cartão não tem limite suficiente", "the card has insufficient funds"],
	unknown_test_card: ["o cartão não foi aceito", "the card was not accepted"],
	timeout: ["o pagamento não respondeu a tempo", "the payment did not answer in time"],
	pix_expired: ["o PIX expirou sem ser pago", "the PIX expired unpaid"],
	unknown: ["o pagamento não foi aprovado", "the payment was not approved"],
};

/** "card_declined" → "o banco recusou o cartão". */
export function paymentFailureText(code) {
	const key = String(code || "unknown").trim();
	return t(...(PAYMENT[key] || PAYMENT.unknown));
}

/** A stored cancel reason → words; a reason typed by a person is shown as written. */
export function cancelReasonText(reason) {
	if (!reason) return "";
	const failed = /^payment_failed:\s*(\S+)/.exec(reason);
	if (failed) return t("Pagamento não aprovado: ", "Payment not approved: ") + paymentFailureText(failed[1]);
	if (reason === "payment_timeout")
		return t("O pagamento não foi confirmado a tempo", "The payment was not confirmed in time");
	if (reason === "pix_expired") return t("O PIX expirou sem ser pago", "The PIX expired unpaid");
	return reason;
}
