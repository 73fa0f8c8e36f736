/**
 * Gás do Povo vouchers: the federal programme pays a low-income family's P13 refill, redeemed at an
 * accredited reseller. The rules here are plain functions; the vouchers service applies them.
 *
 * A voucher's life: a customer *claims* it for an order at a supplier (the beneficiary's CPF and the
 * voucher code are checked by the eligibility provider; the claim holds it for VOUCHER_CLAIM_TTL_MS
 * and yields the token the order is paid with) → payments *redeems* it when it charges the order
 * (once per voucher) → a cancelled order *releases* it (it may be claimed again). An expired claim
 * may be claimed again too.
 */

export type VoucherStatus = "claimed" | "redeemed" | "released";

/** The programme's codes: GDP- and 8 digits. */
export const VOUCHER_CODE = /^GDP-\d{8}$/;

export function normalizeVoucherCode(code: string): string {
	return code.trim().toUpperCase();
}

/** Only a P13 refill (13 kg, household cooking gas) is covered. */
export const VOUCHER_CYLINDER_TYPE = "P13";

export interface VoucherState {
	status: VoucherStatus;
	claimExpiresAt?: string;
	customerId?: string;
	orderId?: string;
}

/** May this voucher be claimed now (new, released, or a claim that expired unused)? */
export function claimable(v: VoucherState | null, now: Date): boolean {
	if (!v) return true;
	if (v.status === "released") return true;
	if (v.status === "claimed") return !v.claimExpiresAt || Date.parse(v.claimExpiresAt) <= now.getTime();
	return false;
}

export type VoucherProblem =
	| "invalid_cpf"
	| "invalid_code"
	| "not_accredited"
	| "not_p13"
	| "already_redeemed"
	| "claimed_elsewhere"
	| "not_beneficiary"
	| "voucher_expired"
	| "claim_expired"
	| "claim_unknown"
	| "wrong_customer"
	| "wrong_supplier"
	| "amount_exceeded";

/** Why a claim is refused before the provider is asked (null: ask it). */
export function claimProblem(input: {
	cpfValid: boolean;
	code: string;
	accredited: boolean;
	productType: string | null;
}): VoucherProblem | null {
	if (!input.cpfValid) return "invalid_cpf";
	if (!VOUCHER_CODE.test(input.code)) return "invalid_code";
	if (!input.accredited) return "not_accredited";
	if (input.productType !== VOUCHER_CYLINDER_TYPE) return "not_p13";
	return null;
}

/** Why payments may not redeem this claim for this order (null: it may). */
export function redeemProblem(
	v: (VoucherState & { supplierId?: string }) | null,
	order: { orderId: string; customerId: string; supplierId: string; amountCents: number },
	now: Date,
	maxCents: number,
): VoucherProblem | null {
	if (!v) return "claim_unknown";
	if (v.status === "redeemed") return v.orderId === order.orderId ? null : "already_redeemed";
	if (v.status !== "claimed") return "claim_unknown";
	if (v.claimExpiresAt && Date.parse(v.claimExpiresAt) <= now.getTime()) return "claim_expired";
	if (v.customerId !== order.customerId) return "wrong_customer";
	if (v.supplierId !== order.supplierId) return "wrong_supplier";
	if (order.amountCents > maxCents) return "amount_exceeded";
	return null;
}

/** Human text of each problem (the API's message; the code is the `reason`). */
export const VOUCHER_PROBLEM_TEXT: Record<VoucherProblem, string> = {
	invalid_cpf: "The beneficiary's CPF is not valid (check digits)",
	invalid_code: "The voucher code must look like GDP-12345678",
	not_accredited: "This supplier is not accredited for Gás do Povo",
	not_p13: "Gás do Povo covers a P13 refill only",
	already_redeemed: "This voucher was already redeemed",
	claimed_elsewhere: "This voucher is being used for another order",
	not_beneficiary: "This CPF is not a Gás do Povo beneficiary, or the voucher is not theirs",
	voucher_expired: "This voucher has expired",
	claim_expired: "The voucher claim expired; claim it again",
	claim_unknown: "Unknown voucher claim",
	wrong_customer: "The voucher was claimed by someone else",
	wrong_supplier: "The voucher was claimed for another supplier",
	amount_exceeded: "The order costs more than the voucher covers",
};

export interface RedemptionLike {
	code: string;
	orderId?: string;
	supplierId: string;
	status: VoucherStatus;
	amountCents?: number;
	redeemedAt?: string;
	releasedAt?: string;
	cpfMasked: string;
}

export const REDEMPTION_COLUMNS = [
	{ key: "redeemedAt", header: "redeemed_at" },
	{ key: "code", header: "voucher" },
	{ key: "orderId", header: "order" },
	{ key: "cpfMasked", header: "beneficiary_cpf" },
	{ key: "status", header: "status" },
	{ key: "amountCents", header: "amount_cents" },
];

/** A supplier's redemption report: each voucher redeemed (or redeemed then released) and what the programme owes. */
export function redemptionReport(rows: RedemptionLike[]) {
	const sorted = [...rows].sort((a, b) => ((a.redeemedAt ?? "") < (b.redeemedAt ?? "") ? -1 : 1));
	const redeemed = sorted.filter((r) => r.status === "redeemed");
	return {
		columns: REDEMPTION_COLUMNS,
		rows: sorted.map((r) => ({
			redeemedAt: r.redeemedAt ?? null,
			code: r.code,
			orderId: r.orderId ?? null,
			cpfMasked: r.cpfMasked,
			status: r.status,
			amountCents: r.amountCents ?? 0,
		})),
		totals: {
			redeemed: redeemed.length,
			released: sorted.length - redeemed.length,
			reimbursableCents: redeemed.reduce((n, r) => n + (r.amountCents ?? 0), 0),
		},
	};
}
