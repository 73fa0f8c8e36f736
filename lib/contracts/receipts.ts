/** Stored shapes of the receipts service, and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import { idParam } from "./params";

/** A delivered order's receipt (collection `receipts`, `_id` = orderId: one per order). */
export interface Receipt extends StoredDoc {
	orderId: string;
	customerId: string;
	supplierId: string;
	/** Which ReceiptProvider issued it ("html"; an NF-e provider's name). */
	provider: string;
	number: string;
	accessKey: string | null;
	contentType: string;
	body: string;
	encoding: "utf8" | "base64";
	issuedAt: string;
}

export const RECEIPT_PARAMS = {
	get: { id: idParam },
	issue: { orderId: idParam },
} as const;
