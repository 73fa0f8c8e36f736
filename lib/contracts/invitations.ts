/** Stored shapes of the invitations service, and the params and results of its actions. */
import type { StoredDoc } from "../infra/store/types";
import type { Role } from "../domain/access";
import type { InviteProblem, InviteRole, InviteStatus } from "../domain/invites";
import type { PageParams, PublicOf } from "./common";

export interface Invite extends StoredDoc {
	/** The secret the invitee registers with (256 bits, URL-safe); unique. */
	code: string;
	/** Normalized e-mail of the invitee: only this address can use the code. */
	email: string;
	role: InviteRole;
	message: string | null;
	invitedBy: string;
	inviterRole: Role;
	inviterName: string | null;
	/** The inviting supplier (couriers invited by a supplier), else null. */
	supplierId: string | null;
	status: InviteStatus;
	expiresAt: string;
	/** Set while a registration holds the invite (status "claimed"). */
	claimedAt?: string;
	userId?: string;
	acceptedAt?: string;
	/** Legacy (before the outbox): whether invitation.accepted had gone out. Never shown. */
	acceptedPublished?: boolean;
	revokedAt?: string;
	revokedBy?: string;
	expiredAt?: string;
	createdAt: string;
	updatedAt: string;
}

/** The inviter's view of an invite (code included: they hand it to the invitee). */
export type PublicInvite = PublicOf<Invite, "acceptedPublished">;

export interface CreateInviteParams {
	email: string;
	role: InviteRole;
	message?: string;
	expiresInHours?: number;
}

export interface ListInvitesParams extends PageParams {
	status?: InviteStatus;
	role?: InviteRole;
}

export interface InviteCodeParams {
	code: string;
}

export interface InviteIdParams {
	id: string;
}

/** The public lookup of a code: whether it is usable, for which role, and who invited. */
export interface InviteLookup {
	id: string;
	code: string;
	valid: boolean;
	reason: InviteProblem | null;
	role: InviteRole;
	invitedBy: { name: string | null; role: Role };
}

export interface ClaimParams {
	code: string;
	email: string;
}

/** What users.register needs from a claimed invite. */
export interface ClaimedInvite {
	id: string;
	role: InviteRole;
	supplierId: string | null;
	invitedBy: string;
}

export interface ReleaseResult {
	released: boolean;
}

export interface ExpireDueResult {
	expired: number;
	/** Only when stale claims were recovered. */
	recovered?: number;
}
