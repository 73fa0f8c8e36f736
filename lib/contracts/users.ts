/** Stored shapes of the users service (refined by whoever changes that service). */
import type { StoredDoc } from "../infra/store/types";

export interface User extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
