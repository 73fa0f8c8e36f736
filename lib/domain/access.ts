/** Who may call what: roles, the signed-in user as the gateway sees it, and the rules for an action's `auth`. */
export type Role = "customer" | "supplier" | "courier" | "admin";
export const ROLES: Role[] = ["customer", "supplier", "courier", "admin"];

export interface AuthUser {
	id: string;
	role: Role;
	status: string;
	/** True when this token was issued after a TOTP check. */
	mfa: boolean;
	mfaEnabled: boolean;
	supplierId?: string | null;
	/**
	 * The user's session epoch when the token was issued: logout, a password, role or status
	 * change and deletion move it on, and the gateway refuses tokens of an older epoch.
	 */
	sessionEpoch?: number;
	/** The language this request's reader reads (Accept-Language, else their stored locale); set by the gateway, not in the token. */
	locale?: string;
}

/** What an action declares: `auth: "public"`, or `auth: { roles: [...], mfa: true }`; absent = any signed-in user. */
export type ActionAuth = "public" | { roles?: Role[]; mfa?: boolean } | undefined;

/**
 * Whether a sensitive operation needs an MFA-verified token from this user: always for users who
 * enrolled in MFA, and for every admin when the platform requires admin MFA (REQUIRE_ADMIN_MFA).
 */
export function needsMfa(user: AuthUser, requireAdminMfa = false): boolean {
	return !user.mfa && (user.mfaEnabled || (requireAdminMfa && user.role === "admin"));
}

/** null when allowed, else the reason ("unauthenticated" → 401, others → 403). */
export function authorizationProblem(
	auth: ActionAuth,
	user: AuthUser | null,
	requireAdminMfa = false,
): null | "unauthenticated" | "role" | "mfa" | "inactive" {
	if (auth === "public") return null;
	if (!user) return "unauthenticated";
	if (user.status === "suspended" || user.status === "deleted") return "inactive";
	if (auth && auth.roles && !auth.roles.includes(user.role)) return "role";
	if (auth && auth.mfa && needsMfa(user, requireAdminMfa)) return "mfa";
	return null;
}
