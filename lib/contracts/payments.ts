/** Stored shapes of the payments service. */
import type { StoredDoc } from "../infra/store/types";

export interface Payment extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}

export interface Refund extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
