/** Stored shapes of the notifications service. */
import type { StoredDoc } from "../infra/store/types";

export interface Notification extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
