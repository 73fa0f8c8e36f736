/** Rules about users that need no broker: roles, statuses, who may change what. */
import { AuthUser, needsMfa, Role } from "./access";
import type { SupplierCreated, UserCreated } from "../contracts/events";
import type { User } from "../contracts/users";

export const STATUSES = ["active", "pending_verification", "suspended", "deleted"] as const;
export type UserStatus = (typeof STATUSES)[number];

export const LOCALES = ["pt-BR", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "pt-BR";

/** Fields a user may change on their own profile; an admin may also change role and status. */
export const SELF_EDITABLE = [
	"name",
	"phone",
	"locale",
	"address",
	"supplierProfile",
	"password",
	"currentPassword",
] as const;
export const ADMIN_ONLY = ["role", "status"] as const;

export function normalizeEmail(email: string): string {
	return email.trim().toLowerCase();
}

/** Fields never returned by the API or published in events. */
export type SecretField = "passwordHash" | "mfaSecret" | "mfaPendingSecret" | "mfaLastStep" | "sessionEpoch";
export const SECRET_FIELDS: SecretField[] = [
	"passwordHash",
	"mfaSecret",
	"mfaPendingSecret",
	"mfaLastStep",
	"sessionEpoch",
];

export function canEditUser(actor: { id: string; role: Role }, targetId: string, fields: string[]): boolean {
	if (actor.role === "admin") return true;
	if (actor.id !== targetId) return false;
	return fields.every((f) => (SELF_EDITABLE as readonly string[]).includes(f));
}

/**
 * Changes an admin must confirm with an MFA-verified login (when MFA is on for them): a role or
 * status, or someone else's password.
 */
export function isSensitiveChange(actorId: string, targetId: string, fields: string[]): boolean {
	return fields.includes("role") || fields.includes("status") || (fields.includes("password") && actorId !== targetId);
}

export type UpdateProblem = null | "forbidden" | "mfa" | "use_verification" | "current_password";

/** Why a profile update may not go ahead, or null. */
export function updateProblem(
	actor: { id: string; role: Role; mfa: boolean; mfaEnabled: boolean },
	target: { _id: string; status: string },
	changes: Record<string, unknown>,
	requireAdminMfa = false,
): UpdateProblem {
	const fields = Object.keys(changes);
	if (!canEditUser(actor, target._id, fields)) return "forbidden";
	if (isSensitiveChange(actor.id, target._id, fields) && needsMfa(actor as AuthUser, requireAdminMfa)) return "mfa";
	// Activation of an invited supplier or courier goes through document review (users.activate).
	if (changes.status === "active" && target.status === "pending_verification") return "use_verification";
	if (changes.password && actor.id === target._id && !changes.currentPassword) return "current_password";
	return null;
}

/** The user.created payload. */
export function userCreatedData(user: User): UserCreated {
	return {
		userId: user._id,
		email: user.email,
		name: user.name,
		role: user.role,
		status: user.status,
		locale: user.locale,
		inviteId: user.inviteId || null,
		supplierId: user.supplierId || null,
	};
}

/** Whether a change to this user changes its catalog listing (a supplier's name or profile). */
export function supplierListingChanged(user: Pick<User, "role">, changed: string[]): boolean {
	return user.role === "supplier" && changed.some((field) => field === "supplierProfile" || field === "name");
}

/** A verified supplier as the catalog sees it (supplier.created): its profile, defaults where it gave none. */
export function supplierCatalogEntry(user: User): SupplierCreated {
	const profile = user.supplierProfile;
	return {
		supplierId: user._id,
		name: profile?.businessName || user.name,
		anpAuthorization: user.verified?.anpAuthorization || null,
		location: profile?.location || null,
		deliveryRadiusKm: profile?.deliveryRadiusKm || 10,
		openingHours: profile?.openingHours || { open: "00:00", close: "23:59" },
		rating: 5,
	};
}

/**
 * Whether these changes end every session of the user (the session epoch moves on): a new
 * password, another role, another status (suspension, deletion, reactivation).
 */
export function endsSessions(
	user: { role: string; status: string },
	changes: { password?: string; role?: string; status?: string },
): boolean {
	return (
		!!changes.password ||
		(changes.role !== undefined && changes.role !== user.role) ||
		(changes.status !== undefined && changes.status !== user.status)
	);
}
