/**
 * Invitation rules without a broker: who may invite whom, the code, expiry, and why an invite
 * can no longer be used.
 */
import { normalizeEmail } from "./users";
import type { Role } from "./access";
import type { InvitationAccepted, InvitationCreated, InvitationExpired } from "../contracts/events";
import type { ClaimedInvite, Invite } from "../contracts/invitations";
import type { ErrorType } from "../contracts/error-catalogue";

export const INVITE_ROLES = ["supplier", "courier"] as const;
export type InviteRole = (typeof INVITE_ROLES)[number];

/** pending → claimed (registration in progress) → accepted; pending → revoked | expired; claimed → pending (registration failed). */
export const INVITE_STATUSES = ["pending", "claimed", "accepted", "revoked", "expired"] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

/** Why an invite cannot be used. */
export type InviteProblem = "expired" | "revoked" | "used";

export interface InviteLike {
	status: InviteStatus;
	expiresAt: string;
	email: string;
}

export interface Inviter {
	id: string;
	role: string;
	status?: string;
}

export function expiresAt(now: Date, ttlHours: number): string {
	return new Date(now.getTime() + ttlHours * 3_600_000).toISOString();
}

/** null when `inviter` may invite someone as `role`, else the reason. */
export function invitePermissionProblem(inviter: Inviter, role: InviteRole): string | null {
	if (inviter.role === "admin") return null;
	if (inviter.role === "supplier") {
		if (role !== "courier") return "A supplier can only invite couriers";
		if (inviter.status !== "active") return "A supplier can invite couriers once verified";
		return null;
	}
	return "Only admins and suppliers can invite";
}

/** The status as seen now: a pending invite past its expiry is expired even before the sweep runs. */
export function effectiveStatus(invite: Pick<InviteLike, "status" | "expiresAt">, now: Date): InviteStatus {
	if (invite.status === "pending" && invite.expiresAt <= now.toISOString()) return "expired";
	return invite.status;
}

export function inviteProblem(invite: Pick<InviteLike, "status" | "expiresAt">, now: Date): InviteProblem | null {
	switch (effectiveStatus(invite, now)) {
		case "pending":
			return null;
		case "expired":
			return "expired";
		case "revoked":
			return "revoked";
		default:
			return "used";
	}
}

export function emailMatches(invite: Pick<InviteLike, "email">, email: string): boolean {
	return normalizeEmail(invite.email) === normalizeEmail(email);
}

/** The error type for a problem, as the API reports it (status and message: the error catalogue). */
export function problemError(problem: InviteProblem): { type: ErrorType; message: string } {
	if (problem === "expired") return { type: "INVITE_EXPIRED", message: "This invite has expired" };
	if (problem === "revoked") return { type: "INVITE_REVOKED", message: "This invite was revoked" };
	return { type: "INVITE_USED", message: "This invite has already been used" };
}

/** Store query for invites with a given status as seen at `now`. */
export function statusQuery(status: InviteStatus, now: Date): Record<string, unknown> {
	const nowIso = now.toISOString();
	if (status === "pending") return { status: "pending", expiresAt: { $gt: nowIso } };
	if (status === "expired") return { $or: [{ status: "expired" }, { status: "pending", expiresAt: { $lte: nowIso } }] };
	return { status };
}

/** A new pending invite from `inviter` (code and id made by the caller). */
export function buildInvite(input: {
	id: string;
	code: string;
	email: string;
	role: InviteRole;
	message?: string | null;
	inviter: { id: string; role: Role; name: string | null };
	now: Date;
	ttlHours: number;
}): Invite {
	const now = input.now.toISOString();
	return {
		_id: input.id,
		code: input.code,
		email: normalizeEmail(input.email),
		role: input.role,
		message: input.message || null,
		invitedBy: input.inviter.id,
		inviterRole: input.inviter.role,
		inviterName: input.inviter.name,
		supplierId: input.inviter.role === "supplier" ? input.inviter.id : null,
		status: "pending",
		expiresAt: expiresAt(input.now, input.ttlHours),
		createdAt: now,
		updatedAt: now,
	};
}

export function invitationCreatedData(invite: Invite): InvitationCreated {
	return {
		inviteId: invite._id,
		email: invite.email,
		role: invite.role,
		invitedBy: invite.invitedBy,
		supplierId: invite.supplierId,
		expiresAt: invite.expiresAt,
		code: invite.code,
		message: invite.message,
	};
}

export function invitationAcceptedData(invite: Invite, userId: string): InvitationAccepted {
	return {
		inviteId: invite._id,
		userId,
		role: invite.role,
		supplierId: invite.supplierId || null,
		invitedBy: invite.invitedBy,
	};
}

export function invitationExpiredData(invite: Invite): InvitationExpired {
	return {
		inviteId: invite._id,
		email: invite.email,
		role: invite.role,
		invitedBy: invite.invitedBy,
		supplierId: invite.supplierId || null,
	};
}

/** What a claim hands to users.register. */
export function claimedInvite(invite: Invite): ClaimedInvite {
	return {
		id: invite._id,
		role: invite.role,
		supplierId: invite.supplierId || null,
		invitedBy: invite.invitedBy,
	};
}
