/** Stored shapes of the vouchers service (Gás do Povo), and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import type { VoucherStatus } from "../domain/vouchers";
import { idParam, isoTimeParam } from "./params";

/** A voucher (`_id` = its code), from its first claim on. The CPF is kept only masked. */
export interface Voucher extends StoredDoc {
	code: string;
	status: VoucherStatus;
	cpfMasked: string;
	customerId: string;
	supplierId: string;
	productId: string;
	/** What the order pays with (paymentToken); a new one per claim. */
	token: string;
	claimedAt: string;
	claimExpiresAt: string;
	orderId?: string;
	paymentId?: string;
	amountCents?: number;
	redeemedAt?: string;
	releasedAt?: string;
	releaseReason?: string | null;
	history: { status: VoucherStatus; at: string; orderId?: string }[];
}

/** Kind `accreditations`: `_id` = supplier id. */
export interface Accreditation extends StoredDoc {
	accredited: boolean;
	changedBy: string;
	changedAt: string;
}

export interface ClaimParams {
	supplierId: string;
	productId: string;
	cpf: string;
	code: string;
}
export interface RedeemParams {
	token: string;
	orderId: string;
	paymentId: string;
	customerId: string;
	supplierId: string;
	amountCents: number;
}
export interface RedeemResult {
	ok: boolean;
	voucherId?: string;
	reason?: string;
}
export interface RedemptionsParams {
	supplierId?: string;
	from?: string;
	to?: string;
	format: "json" | "csv";
}

export const VOUCHER_PARAMS = {
	claim: {
		supplierId: idParam,
		productId: idParam,
		cpf: { type: "string", min: 11, max: 14, pattern: /^[\d.\-\s]+$/ },
		code: { type: "string", min: 4, max: 20 },
	},
	redeem: {
		token: { type: "string", min: 1, max: 200 },
		orderId: idParam,
		paymentId: idParam,
		customerId: idParam,
		supplierId: idParam,
		amountCents: { type: "number", integer: true, min: 0 },
	},
	setAccreditation: { supplierId: idParam, accredited: { type: "boolean" } },
	getAccreditation: { supplierId: idParam },
	redemptions: {
		supplierId: { ...idParam, optional: true },
		from: { ...isoTimeParam, optional: true },
		to: { ...isoTimeParam, optional: true },
		format: { type: "enum", values: ["json", "csv"], default: "json" },
	},
} as const;
