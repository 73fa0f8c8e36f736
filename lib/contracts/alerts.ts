/** Stored shapes of the alerts service. */
import type { StoredDoc } from "../infra/store/types";

export interface Alert extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
