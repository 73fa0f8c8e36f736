/** The users service's `this`, shared by services/users.service.ts and its parts. */
import type { Service } from "moleculer";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { AuthUser, Ctx } from "../../../lib/contracts";
import type {
	NewUserFields,
	ProfileFields,
	PublicUser,
	RefreshRecord,
	Session,
	User,
	UserChanges,
} from "../../../lib/contracts/users";
import type { Collection } from "../../../lib/infra/store/types";
import type { AttemptStore } from "../../../lib/infra/login-throttle";

export interface Settings {
	rest: string;
	/** Every admin needs an MFA-verified token for sensitive changes (REQUIRE_ADMIN_MFA). */
	requireAdminMfa: boolean;
}

export type RegisterFields = ProfileFields & { email: string };

export interface OwnMethods {
	checkUpdateAllowed(ctx: Ctx<unknown>, me: AuthUser, user: User, changes: UserChanges): Promise<void>;
	checkPasswordStrength(password: string, user: { email: string; name?: string }): void;
	registerInvited(ctx: Ctx<unknown>, inviteCode: string, profile: RegisterFields, plain: string): Promise<PublicUser>;
	createUser(ctx: Ctx<unknown> | null, fields: NewUserFields, plainPassword: string): Promise<PublicUser>;
	publicUser(user: User): PublicUser;
	/** An access token and a refresh token (a new family, or the next of `familyId`). */
	session(user: User, mfa: boolean, familyId?: string): Promise<Session>;
	refreshTokens(): Collection<RefreshRecord>;
	revokeFamily(familyId: string): Promise<void>;
	ensureFirstAdmin(): Promise<void>;
	/** 429 while the account is blocked after failed sign-ins (lib/domain/login-throttle.ts). */
	refuseWhileBlocked(email: string): Promise<void>;
	/** Counts a failed sign-in against the account (and tells its owner at a lockout). */
	signInFailed(ctx: Ctx<unknown>, email: string, user: User | null): Promise<void>;
	/** True when the code is right and its time step was not used before (then it is used up). */
	acceptTotp(ctx: Ctx<unknown>, user: User, secret: string, code: string): Promise<boolean>;
}

export interface OwnState {
	loginThrottle: AttemptStore;
}

/** The broker as moleculer.config.ts extends it. */
export type EventsBroker = Service["broker"] & { whenEventsReady(): Promise<void> };

export type ThisService = Service<Settings> &
	DbMethods<User> &
	EventsMethods &
	OwnMethods &
	OwnState & { broker: EventsBroker };
