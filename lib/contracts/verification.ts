/** Stored shapes of the verification service. */
import type { StoredDoc } from "../infra/store/types";

export interface VerificationDocument extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}

export interface VerificationRequest extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
