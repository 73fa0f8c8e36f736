/** Rules about users that need no broker: roles, statuses, who may change what. */
import { Role } from "./auth";

export const STATUSES = ["active", "pending_verification", "suspended", "deleted"] as const;
export type UserStatus = (typeof STATUSES)[number];

export const LOCALES = ["pt-BR", "en"] as const;

/** Fields a user may change on their own profile; an admin may also change role and status. */
export const SELF_EDITABLE = ["name", "phone", "locale", "address", "supplierProfile", "password"] as const;
export const ADMIN_ONLY = ["role", "status"] as const;

export function normalizeEmail(email: string): string {
	return email.trim().toLowerCase();
}

/** Fields never returned by the API or published in events. */
export const SECRET_FIELDS = ["passwordHash", "mfaSecret", "mfaPendingSecret"];

export function canEditUser(actor: { id: string; role: Role }, targetId: string, fields: string[]): boolean {
	if (actor.role === "admin") return true;
	if (actor.id !== targetId) return false;
	return fields.every((f) => (SELF_EDITABLE as readonly string[]).includes(f));
}
