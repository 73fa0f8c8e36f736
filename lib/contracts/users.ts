/** Stored shapes of the users service, and the params and results of its actions. */
import type { StoredDoc } from "../infra/store/types";
import type { Role } from "../domain/access";
import { LOCALES, type Locale, type SecretField, type UserStatus } from "../domain/users";
import type { PageParams, Point, PublicOf } from "./common";

export interface Address {
	street?: string;
	city?: string;
	lat: number;
	lng: number;
}

export interface OpeningHours {
	open: string;
	close: string;
}

export interface SupplierProfile {
	businessName: string;
	location: Point;
	deliveryRadiusKm: number;
	openingHours?: OpeningHours;
}

/** What document review established (users.activate). */
export interface VerifiedFacts {
	anpAuthorization?: string;
	cnpj?: string;
}

export interface User extends StoredDoc {
	/** Normalized (trimmed, lower case); unique. */
	email: string;
	name: string;
	role: Role;
	status: UserStatus;
	locale: Locale;
	phone?: string;
	address?: Address;
	supplierProfile?: SupplierProfile;
	passwordHash: string;
	mfaEnabled: boolean;
	/** TOTP secret once MFA is enabled. */
	mfaSecret?: string;
	/** TOTP secret between mfaSetup and mfaEnable. */
	mfaPendingSecret?: string;
	/** The TOTP time step of the last code accepted: a code is good once per step. */
	mfaLastStep?: number;
	/** Tokens carry it; moved on to end every session (absent = 0). */
	sessionEpoch?: number;
	/** Invited suppliers and couriers: the invite they registered with, and who invited them. */
	inviteId?: string;
	invitedBy?: string;
	/** A courier's supplier (the inviting supplier), else null. */
	supplierId?: string | null;
	verified?: VerifiedFacts;
	verifiedAt?: string;
	deletedAt?: string;
	createdAt: string;
	updatedAt: string;
}

/** A user as the API shows it: no secrets. */
export type PublicUser = PublicOf<User, SecretField>;

export interface ProfileFields {
	name: string;
	phone?: string;
	locale?: Locale;
	address?: Address;
	supplierProfile?: SupplierProfile;
}

export interface RegisterParams extends ProfileFields {
	email: string;
	password: string;
	inviteCode?: string;
}

export interface CreateUserParams extends ProfileFields {
	email: string;
	password: string;
	role: Role;
	status?: UserStatus;
	supplierId?: string;
}

/** The fields of a new user (createUser), before the e-mail is normalized and the password hashed. */
export type NewUserFields = ProfileFields & {
	email: string;
	role: Role;
	status: UserStatus;
	supplierId?: string | null;
	inviteId?: string;
	invitedBy?: string;
};

export interface LoginParams {
	email: string;
	password: string;
	code?: string;
}

export interface Session {
	/** The access token (JWT, short-lived: JWT_EXPIRES_IN). */
	token: string;
	/** Exchanged once at POST /api/auth/refresh for the next pair (REFRESH_TOKEN_TTL). */
	refreshToken: string;
	user: PublicUser;
}

export interface RefreshParams {
	refreshToken: string;
}

/** A refresh token as stored (record kind `refreshTokens` of the users service): a hash, never the token. */
export interface RefreshRecord extends StoredDoc {
	familyId: string;
	userId: string;
	secretHash: string;
	/** The user's session epoch when it was issued: logout and the other session-ending changes void it. */
	epoch: number;
	/** Whether the sign-in that started the family passed MFA. */
	mfa: boolean;
	expiresAt: string;
	createdAt: string;
	usedAt?: string;
	revokedAt?: string;
}

/** One signed-in device (a refresh-token family) as GET /api/auth/sessions lists it. */
export interface DeviceSession {
	/** The family id: DELETE /api/auth/sessions/:id ends it. */
	id: string;
	/** When the sign-in that started it happened (null once that first record has expired). */
	signedInAt: string | null;
	/** When its refresh token was last issued (the sign-in or the last renewal). */
	lastRenewedAt: string;
	expiresAt: string;
	mfa: boolean;
}

export interface MfaSetupResult {
	secret: string;
	otpauthUri: string;
	/** The otpauth URI as a QR code (SVG, data: URL) for an authenticator app to scan. */
	qrDataUrl: string;
}

export interface MfaEnableParams {
	code: string;
}

export interface UserIdParams {
	id: string;
}

export interface UserChanges extends Partial<ProfileFields> {
	password?: string;
	currentPassword?: string;
	role?: Role;
	status?: UserStatus;
}

export interface UpdateUserParams extends UserChanges {
	id: string;
}

export interface ListUsersParams extends PageParams {
	role?: Role;
	status?: UserStatus;
}

/** What the gateway checks on every call (users.authState, cached). */
export interface AuthState {
	status: UserStatus;
	role: Role;
	supplierId: string | null;
	mfaEnabled: boolean;
	sessionEpoch: number;
	/** The language the user reads (the gateway's default when a request sends no Accept-Language). */
	locale?: Locale;
}

export interface ActivateParams {
	id: string;
	verified?: VerifiedFacts;
}

/** Contact details for notifications (users.contact). */
export interface Contact {
	id: string;
	email: string;
	phone: string | null;
	name: string;
	locale: Locale;
	role: Role;
	status: UserStatus;
}

export interface IdByInviteParams {
	inviteId: string;
}

export interface IdsByRoleParams {
	role: Role;
}

/* fastest-validator schemas of the users actions. */

export const emailParam = { type: "email", max: 254 };
export const passwordParam = { type: "string", min: 8, max: 128 };
const locationParam = {
	type: "object",
	strict: true,
	props: { lat: { type: "number", min: -90, max: 90 }, lng: { type: "number", min: -180, max: 180 } },
};
const address = {
	type: "object",
	optional: true,
	strict: true,
	props: {
		street: { type: "string", max: 200, optional: true },
		city: { type: "string", max: 100, optional: true },
		lat: locationParam.props.lat,
		lng: locationParam.props.lng,
	},
};
const hhmm = { type: "string", pattern: /^([01]\d|2[0-3]):[0-5]\d$/ };
const supplierProfile = {
	type: "object",
	optional: true,
	strict: true,
	props: {
		businessName: { type: "string", min: 2, max: 120 },
		location: locationParam,
		deliveryRadiusKm: { type: "number", positive: true, max: 100 },
		openingHours: { type: "object", optional: true, strict: true, props: { open: hhmm, close: hhmm } },
	},
};
export const profileFieldParams = {
	name: { type: "string", min: 1, max: 120, trim: true },
	phone: { type: "string", optional: true, pattern: /^\+?[0-9 ()-]{8,20}$/ },
	locale: { type: "enum", values: LOCALES, optional: true },
	address,
	supplierProfile,
};
export const optionalProfileFieldParams = Object.fromEntries(
	Object.entries(profileFieldParams).map(([k, v]) => [k, { ...v, optional: true }]),
);
