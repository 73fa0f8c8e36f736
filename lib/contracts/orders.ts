/** Stored shapes of the orders service. */
import type { StoredDoc } from "../infra/store/types";

export interface Order extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
