/** Stored shapes of the analytics service. */
import type { StoredDoc } from "../infra/store/types";

export interface Report extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
