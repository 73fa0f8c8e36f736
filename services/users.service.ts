/**
 * Users: registration (customers by themselves, suppliers and couriers with an invite code),
 * profiles, login with JWT, TOTP MFA for admins, and the first admin.
 */
import { Errors, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { AuthUser, Ctx, Page, PendingEvent } from "../lib/contracts";
import { pageParams } from "../lib/contracts/params";
import type { ClaimedInvite, ClaimParams, ReleaseResult } from "../lib/contracts/invitations";
import type {
	ActivateParams,
	AuthState,
	Contact,
	CreateUserParams,
	IdByInviteParams,
	IdsByRoleParams,
	ListUsersParams,
	LoginParams,
	MfaEnableParams,
	MfaSetupResult,
	NewUserFields,
	ProfileFields,
	PublicUser,
	RegisterParams,
	Session,
	UpdateUserParams,
	User,
	UserChanges,
	UserIdParams,
} from "../lib/contracts/users";
import { emailParam, optionalProfileFieldParams, passwordParam, profileFieldParams } from "../lib/contracts/users";
import { issueToken, ROLES } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import { secret } from "../lib/infra/secrets";
import { clientError, conflict, forbidden, notFound, unauthorized, unprocessable } from "../lib/infra/errors";
import { newId, nowIso, secureCode } from "../lib/infra/ids";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../lib/infra/passwords";
import { newTotpSecret, totpUri, verifyTotp } from "../lib/infra/totp";
import {
	canEditUser,
	DEFAULT_LOCALE,
	normalizeEmail,
	STATUSES,
	supplierCatalogEntry,
	updateProblem,
	userCreatedData,
} from "../lib/domain/users";

interface Settings {
	rest: string;
	/** Every admin needs an MFA-verified token for sensitive changes (REQUIRE_ADMIN_MFA). */
	requireAdminMfa: boolean;
}

interface OwnMethods {
	checkUpdateAllowed(me: AuthUser, user: User, changes: UserChanges): Promise<void>;
	registerInvited(ctx: Ctx<unknown>, inviteCode: string, profile: RegisterFields, plain: string): Promise<PublicUser>;
	createUser(ctx: Ctx<unknown> | null, fields: NewUserFields, plainPassword: string): Promise<PublicUser>;
	publicUser(user: User): PublicUser;
	session(user: User, mfa: boolean): Session;
	ensureFirstAdmin(): Promise<void>;
}

type ThisService = Service<Settings> & DbMethods<User> & EventsMethods & OwnMethods & { broker: EventsBroker };
/** The broker as moleculer.config.ts extends it. */
type EventsBroker = Service["broker"] & { whenEventsReady(): Promise<void> };
type RegisterFields = ProfileFields & { email: string };

const UsersService: ServiceSchema<Settings, ThisService> = {
	name: "users",
	mixins: [
		DbMixin<User>({ collection: "users", indexes: [{ fields: { email: 1 }, unique: true }, { fields: { role: 1 } }] }),
		EventsMixin,
	],
	settings: { rest: "/", requireAdminMfa: false },

	actions: {
		register: {
			rest: "POST /users",
			auth: "public",
			params: {
				email: emailParam,
				password: passwordParam,
				...profileFieldParams,
				inviteCode: { type: "string", min: 16, max: 64, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<RegisterParams>): Promise<PublicUser> {
				const { inviteCode, password: plain, ...profile } = ctx.params;
				const created = inviteCode
					? await this.registerInvited(ctx, inviteCode, profile, plain)
					: await this.createUser(ctx, { ...profile, role: "customer", status: "active" }, plain);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/users/${created.id}`;
				return created;
			},
		},

		/** Internal: create a user of any role (seeding, admin tools, tests). Not reachable over HTTP. */
		create: {
			visibility: "public",
			params: {
				email: emailParam,
				password: passwordParam,
				...profileFieldParams,
				role: { type: "enum", values: ROLES },
				status: { type: "enum", values: STATUSES, optional: true },
				supplierId: { type: "string", optional: true },
			},
			handler(this: ThisService, ctx: Ctx<CreateUserParams>): Promise<PublicUser> {
				const { password: plain, status = "active", ...fields } = ctx.params;
				return this.createUser(ctx, { ...fields, status }, plain);
			},
		},

		login: {
			rest: "POST /auth/login",
			auth: "public",
			params: {
				email: { type: "string", max: 254 },
				password: { type: "string", max: 128 },
				code: { type: "string", pattern: /^\d{6}$/, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<LoginParams>): Promise<Session> {
				const user = await this.findOneEntity({ email: normalizeEmail(ctx.params.email) });
				const ok = await verifyPassword(ctx.params.password, user ? user.passwordHash : DUMMY_HASH);
				if (!user || !ok) throw unauthorized("Wrong e-mail or password", "INVALID_CREDENTIALS");
				if (user.status === "suspended" || user.status === "deleted")
					throw forbidden("Account is suspended or deleted");
				if (user.mfaEnabled) {
					if (!ctx.params.code) throw unauthorized("Enter the code from your authenticator app", "MFA_CODE_REQUIRED");
					if (!user.mfaSecret || !verifyTotp(user.mfaSecret, ctx.params.code))
						throw unauthorized("Wrong MFA code", "INVALID_MFA_CODE");
				}
				return this.session(user, !!user.mfaEnabled);
			},
		},

		mfaSetup: {
			rest: "POST /auth/mfa/setup",
			auth: { roles: ["admin"] },
			params: {},
			async handler(this: ThisService, ctx: Ctx): Promise<MfaSetupResult> {
				const user = await this.getEntityOr404(ctx.meta.user!.id, "user");
				if (user.mfaEnabled) throw conflict("MFA is already enabled");
				const secret = newTotpSecret();
				await this.updateEntity(ctx, user._id, { $set: { mfaPendingSecret: secret, updatedAt: nowIso() } });
				return { secret, otpauthUri: totpUri(secret, user.email) };
			},
		},

		mfaEnable: {
			rest: "POST /auth/mfa/enable",
			auth: { roles: ["admin"] },
			params: { code: { type: "string", pattern: /^\d{6}$/ } },
			async handler(this: ThisService, ctx: Ctx<MfaEnableParams>): Promise<Session> {
				const user = await this.getEntityOr404(ctx.meta.user!.id, "user");
				if (!user.mfaPendingSecret) throw conflict("Start with POST /api/auth/mfa/setup");
				if (!verifyTotp(user.mfaPendingSecret, ctx.params.code))
					throw unauthorized("Wrong MFA code", "INVALID_MFA_CODE");
				const updated = await this.updateEntity(
					ctx,
					user._id,
					{
						$set: { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, updatedAt: nowIso() },
						$unset: { mfaPendingSecret: true },
					},
					[
						{
							type: "user.updated",
							data: { userId: user._id, role: user.role, status: user.status, changed: ["mfaEnabled"] },
						},
					],
				);
				return this.session(updated, true);
			},
		},

		get: {
			rest: "GET /users/:id",
			params: { id: "string" },
			async handler(this: ThisService, ctx: Ctx<UserIdParams>): Promise<PublicUser> {
				const me = ctx.meta.user!;
				if (me.role !== "admin" && me.id !== ctx.params.id) throw forbidden("You can only see your own profile");
				return this.publicUser(await this.getEntityOr404(ctx.params.id, "user"));
			},
		},

		update: {
			rest: "PUT /users/:id",
			params: {
				id: "string",
				...optionalProfileFieldParams,
				password: { ...passwordParam, optional: true },
				currentPassword: { type: "string", max: 128, optional: true },
				role: { type: "enum", values: ROLES, optional: true },
				status: { type: "enum", values: STATUSES, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<UpdateUserParams>): Promise<PublicUser> {
				const { id, ...changes } = ctx.params;
				const changed = Object.keys(changes);
				if (changed.length === 0) throw unprocessable("Nothing to change");
				const me = ctx.meta.user!;
				if (!canEditUser(me, id, changed)) throw forbidden("You may not change these fields of this user");
				const user = await this.getEntityOr404(id, "user");
				if (user.status === "deleted") throw notFound("user", id);
				await this.checkUpdateAllowed(me, user, changes);
				const { currentPassword: _current, password: newPassword, ...fields } = changes;
				const set: Record<string, unknown> = { ...fields, updatedAt: nowIso() };
				if (newPassword) set.passwordHash = await hashPassword(newPassword);
				const role = fields.role ?? user.role;
				const status = fields.status ?? user.status;
				const updated = await this.updateEntity(ctx, id, { $set: set }, [
					{ type: "user.updated", data: { userId: id, role, status, changed } },
				]);
				return this.publicUser(updated);
			},
		},

		remove: {
			rest: "DELETE /users/:id",
			auth: { roles: ["admin"], mfa: true },
			params: { id: "string" },
			async handler(this: ThisService, ctx: Ctx<UserIdParams>): Promise<PublicUser> {
				const user = await this.getEntityOr404(ctx.params.id, "user");
				if (user.status === "deleted") return this.publicUser(user);
				const deleted = await this.compareAndSet(
					ctx,
					{ _id: user._id, status: { $ne: "deleted" } },
					{ $set: { status: "deleted", deletedAt: nowIso(), updatedAt: nowIso() } },
					[{ type: "user.deleted", data: { userId: user._id, role: user.role } }],
				);
				return this.publicUser(deleted ?? (await this.getEntityOr404(user._id, "user")));
			},
		},

		list: {
			rest: "GET /users",
			auth: { roles: ["admin"] },
			params: {
				role: { type: "enum", values: ROLES, optional: true },
				status: { type: "enum", values: STATUSES, optional: true },
				...pageParams,
			},
			async handler(this: ThisService, ctx: Ctx<ListUsersParams>): Promise<Page<PublicUser>> {
				const { page, pageSize, role, status } = ctx.params;
				const query: Record<string, unknown> = {};
				if (role) query.role = role;
				if (status) query.status = status;
				const found = await this.paginate(query, { page, pageSize, sort: ["createdAt"] });
				return { ...found, rows: found.rows.map((u) => this.publicUser(u)) };
			},
		},

		/** Internal, cached: the current role and status behind a token (the gateway asks on every call). */
		authState: {
			visibility: "public",
			cache: { keys: ["id"], ttl: 30 },
			params: { id: "string" },
			async handler(this: ThisService, ctx: Ctx<UserIdParams>): Promise<AuthState | null> {
				const user = await this.findEntity(ctx.params.id);
				if (!user) return null;
				return {
					status: user.status,
					role: user.role,
					supplierId: user.supplierId || null,
					mfaEnabled: !!user.mfaEnabled,
				};
			},
		},

		/** Internal: the verification service activates a user whose documents were all approved. */
		activate: {
			visibility: "public",
			params: {
				id: "string",
				verified: {
					type: "object",
					optional: true,
					props: { anpAuthorization: { type: "string", optional: true }, cnpj: { type: "string", optional: true } },
				},
			},
			async handler(this: ThisService, ctx: Ctx<ActivateParams>): Promise<PublicUser> {
				const user = await this.getEntityOr404(ctx.params.id, "user");
				if (user.status === "active") return this.publicUser(user);
				const verified = ctx.params.verified || {};
				const events: PendingEvent[] = [
					{ type: "user.updated", data: { userId: user._id, role: user.role, status: "active", changed: ["status"] } },
				];
				if (user.role === "supplier")
					events.push({ type: "supplier.created", data: supplierCatalogEntry({ ...user, verified }) });
				const updated = await this.compareAndSet(
					ctx,
					{ _id: user._id, status: "pending_verification" },
					{ $set: { status: "active", verified, verifiedAt: nowIso(), updatedAt: nowIso() } },
					events,
				);
				if (!updated) throw conflict(`User is ${user.status}, not pending verification`);
				return this.publicUser(updated);
			},
		},

		/** Internal: contact details for notifications (never over HTTP). */
		contact: {
			visibility: "public",
			cache: { keys: ["id"], ttl: 60 },
			params: { id: "string" },
			async handler(this: ThisService, ctx: Ctx<UserIdParams>): Promise<Contact | null> {
				const user = await this.findEntity(ctx.params.id);
				if (!user) return null;
				return {
					id: user._id,
					email: user.email,
					phone: user.phone || null,
					name: user.name,
					locale: user.locale || DEFAULT_LOCALE,
					role: user.role,
					status: user.status,
				};
			},
		},

		/** Internal (invitations, recovering a stale claim): the user registered with an invite, if any. */
		idByInvite: {
			visibility: "public",
			params: { inviteId: { type: "string", max: 64 } },
			async handler(this: ThisService, ctx: Ctx<IdByInviteParams>): Promise<string | null> {
				const user = await this.findOneEntity({ inviteId: ctx.params.inviteId });
				return user ? user._id : null;
			},
		},

		/** Internal: ids of users with a role (e.g. every admin, for alerts). */
		idsByRole: {
			visibility: "public",
			params: { role: { type: "enum", values: ROLES } },
			async handler(this: ThisService, ctx: Ctx<IdsByRoleParams>): Promise<string[]> {
				const users = await this.findEntities({ query: { role: ctx.params.role, status: "active" } });
				return users.map((u) => u._id);
			},
		},
	},

	methods: {
		/** The rules of lib/domain/users.ts updateProblem as errors; a wrong current password is a 403. */
		async checkUpdateAllowed(this: ThisService, me: AuthUser, user: User, changes: UserChanges): Promise<void> {
			const problem = updateProblem(me, user, { ...changes }, this.settings.requireAdminMfa);
			if (problem === "forbidden") throw forbidden("You may not change these fields of this user");
			if (problem === "mfa") throw clientError(403, "MFA_REQUIRED", "Confirm this change with an MFA-verified login");
			if (problem === "use_verification")
				throw conflict("A pending supplier or courier becomes active through document review");
			if (problem === "current_password")
				throw unprocessable("Give your current password to change it", [
					{ field: "currentPassword", type: "required" },
				]);
			if (
				changes.password &&
				me.id === user._id &&
				!(await verifyPassword(changes.currentPassword || "", user.passwordHash))
			)
				throw forbidden("The current password is wrong");
		},

		/** Claims the invite first (a racing second registration gets 409), releases it if creation fails. */
		async registerInvited(
			this: ThisService,
			ctx: Ctx<unknown>,
			inviteCode: string,
			profile: RegisterFields,
			plain: string,
		): Promise<PublicUser> {
			const invite = await ctx.call<ClaimedInvite, ClaimParams>("invitations.claim", {
				code: inviteCode,
				email: profile.email,
			});
			try {
				return await this.createUser(
					ctx,
					{
						...profile,
						role: invite.role,
						status: "pending_verification",
						inviteId: invite.id,
						supplierId: invite.supplierId || null,
						invitedBy: invite.invitedBy,
					},
					plain,
				);
			} catch (err) {
				await ctx
					.call<ReleaseResult, { id: string }>("invitations.releaseClaim", { id: invite.id })
					.catch(() => undefined);
				throw err;
			}
		},

		/** Inserts the user with its user.created event (one write); a taken e-mail is a 409. */
		async createUser(
			this: ThisService,
			ctx: Ctx<unknown> | null,
			fields: NewUserFields,
			plainPassword: string,
		): Promise<PublicUser> {
			const emailNorm = normalizeEmail(fields.email);
			if (await this.findOneEntity({ email: emailNorm }))
				throw conflict("This e-mail is already registered", { field: "email" });
			const now = nowIso();
			const doc: User = {
				...fields,
				_id: newId(),
				email: emailNorm,
				locale: fields.locale || DEFAULT_LOCALE,
				passwordHash: await hashPassword(plainPassword),
				mfaEnabled: false,
				createdAt: now,
				updatedAt: now,
			};
			const user = await this.insertEntity(ctx, doc, [{ type: "user.created", data: userCreatedData(doc) }]);
			return this.publicUser(user);
		},

		publicUser(this: ThisService, user: User): PublicUser {
			const { _id, passwordHash: _hash, mfaSecret: _secret, mfaPendingSecret: _pending, ...rest } = user;
			return { id: _id, ...rest };
		},

		session(this: ThisService, user: User, mfa: boolean): Session {
			const authUser: AuthUser = {
				id: user._id,
				role: user.role,
				status: user.status,
				mfa,
				mfaEnabled: !!user.mfaEnabled,
				supplierId: user.supplierId || null,
			};
			return { token: issueToken(authUser), user: this.publicUser(user) };
		},

		/** The first admin: from ADMIN_EMAIL/ADMIN_PASSWORD, or generated and printed once. */
		async ensureFirstAdmin(this: ThisService): Promise<void> {
			if ((await this.countEntities({ role: "admin" })) > 0) return;
			const cfg = config();
			const adminEmail = cfg.adminEmail || "admin@gasrapido.local";
			const generated = !cfg.adminPassword;
			const adminPassword = cfg.adminPassword || secureCode(12);
			try {
				await this.createUser(
					null,
					{ email: adminEmail, name: "Administrator", role: "admin", status: "active" },
					adminPassword,
				);
			} catch (err) {
				// Another instance created it first.
				if (err instanceof Errors.MoleculerClientError && err.code === 409) return;
				throw err;
			}
			if (generated)
				this.logger.warn(
					`First admin created: ${adminEmail} with generated password ${adminPassword} (shown once; set ADMIN_EMAIL and ADMIN_PASSWORD to choose).`,
				);
			else this.logger.info(`First admin created: ${adminEmail} (password from ADMIN_PASSWORD).`);
		},
	},

	created(this: ThisService) {
		this.settings.requireAdminMfa = config().requireAdminMfa;
	},

	/** DbMixin calls this after every update: gateways drop their cached view of the user. */
	entityUpdated(this: ThisService, doc: User) {
		if (doc && doc._id) this.broker.broadcast("users.authState.changed", { id: doc._id });
	},

	started(this: ThisService) {
		// Resolve the signing secret now, so a generated dev secret is announced at start.
		secret("JWT_SECRET", (msg) => this.logger.warn(msg));
		// After the whole broker is up, so that user.created reaches every consumer.
		this.broker
			.whenEventsReady()
			.then(() =>
				this.ensureFirstAdmin().catch((err: Error) =>
					this.logger.error(`Could not create the first admin: ${err.message}`),
				),
			);
	},
};

export = UsersService;
