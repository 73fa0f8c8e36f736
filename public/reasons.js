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
	voucher_missing: ["faltou o vale Gás do Povo", "the Gás do Povo voucher was missing"],
	voucher_unavailable: [
		"o vale Gás do Povo não pôde ser conferido agora",
		"the Gás do Povo voucher could not be checked now",
	],
};

/** Why a Gás do Povo voucher was refused (the API's `data.reason`), in words. */
const VOUCHER = {
	invalid_cpf: [
		"o CPF do beneficiário não é válido (confira os dígitos)",
		"the beneficiary's CPF is not valid (check the digits)",
	],
	invalid_code: ["o código do vale deve ser como GDP-12345678", "the voucher code must look like GDP-12345678"],
	not_accredited: ["esta revenda não é credenciada no Gás do Povo", "this supplier is not accredited for Gás do Povo"],
	not_p13: ["o Gás do Povo cobre só o botijão P13", "Gás do Povo covers a P13 refill only"],
	already_redeemed: ["este vale já foi usado", "this voucher was already used"],
	claimed_elsewhere: ["este vale está sendo usado em outro pedido", "this voucher is being used for another order"],
	not_beneficiary: [
		"este CPF não é beneficiário do Gás do Povo, ou o vale não é dele",
		"this CPF is not a Gás do Povo beneficiary, or the voucher is not theirs",
	],
	voucher_expired: ["este vale está vencido", "this voucher has expired"],
	claim_expired: ["a reserva do vale expirou; tente de novo", "the voucher claim expired; try again"],
	claim_unknown: ["vale não reconhecido", "unknown voucher"],
	wrong_customer: ["o vale foi reservado por outra pessoa", "the voucher was claimed by someone else"],
	wrong_supplier: ["o vale foi reservado para outra revenda", "the voucher was claimed for another supplier"],
	amount_exceeded: ["o pedido custa mais do que o vale cobre", "the order costs more than the voucher covers"],
};

/** "already_redeemed" → "este vale já foi usado" (null for a reason not known here). */
export function voucherRefusalText(reason) {
	const words = VOUCHER[String(reason || "")];
	return words ? t(...words) : null;
}

/** "card_declined" → "o banco recusou o cartão". */
export function paymentFailureText(code) {
	const key = String(code || "unknown").trim();
	if (!PAYMENT[key] && key.startsWith("voucher_")) return voucherRefusalText(key.slice(8)) || t(...PAYMENT.unknown);
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
