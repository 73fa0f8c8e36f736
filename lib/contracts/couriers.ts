/** Stored shapes of the couriers service. */
import type { StoredDoc } from "../infra/store/types";

export interface Courier extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}

export interface Dispatch extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
