/** Stored shapes of the invitations service. */
import type { StoredDoc } from "../infra/store/types";

export interface Invite extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
