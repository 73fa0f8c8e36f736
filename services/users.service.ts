/**
 * Users: registration (customers by themselves, suppliers and couriers with an invite code),
 * profiles, login with JWT, TOTP MFA for admins, and the first admin.
 */
import { Errors, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import type { AuthUser, Ctx, Page } from "../lib/contracts";
import { pageParams } from "../lib/contracts/params";
import type { ClaimedInvite, ClaimParams, ReleaseResult } from "../lib/contracts/invitations";
import type {
	ListUsersParams,
	NewUserFields,
	PublicUser,
	RegisterParams,
	UpdateUserParams,
	User,
	UserChanges,
	UserIdParams,
} from "../lib/contracts/users";
import { emailParam, optionalProfileFieldParams, passwordParam, profileFieldParams } from "../lib/contracts/users";
import { ROLES } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import { secret } from "../lib/infra/secrets";
import { clientError, conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso, secureCode } from "../lib/infra/ids";
import { hashPassword, verifyPassword, weakPasswordProblem } from "../lib/infra/passwords";
import { attemptStore } from "../lib/infra/login-throttle";
import {
	canEditUser,
	DEFAULT_LOCALE,
	endsSessions,
	normalizeEmail,
	STATUSES,
	supplierCatalogEntry,
	supplierListingChanged,
	updateProblem,
	userCreatedData,
} from "../lib/domain/users";
import type { PendingEvent } from "../lib/contracts/events";
import { UsersInternalMixin } from "./parts/users/internal.mixin";
import { UsersSessionsMixin } from "./parts/users/sessions.mixin";
import type { RegisterFields, Settings, ThisService } from "./parts/users/types";

const UsersService: ServiceSchema<Settings, ThisService> = {
	name: "users",
	mixins: [
		DbMixin<User>({
			collection: "users",
			indexes: [{ fields: { email: 1 }, unique: true }, { fields: { role: 1 } }],
			// Encrypted at rest: TOTP secrets, and what verification established (CNPJ, ANP number).
			sealed: ["mfaSecret", "mfaPendingSecret", "verified"],
			// Refresh tokens (hashes), by family for reuse detection and by user for logout.
			kinds: { refreshTokens: { indexes: [{ fields: { familyId: 1 } }, { fields: { userId: 1 } }] } },
		}),
		EventsMixin,
		UsersSessionsMixin,
		UsersInternalMixin,
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
				this.checkPasswordStrength(plain, profile);
				const created = inviteCode
					? await this.registerInvited(ctx, inviteCode, profile, plain)
					: await this.createUser(ctx, { ...profile, role: "customer", status: "active" }, plain);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/users/${created.id}`;
				return created;
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
				await this.checkUpdateAllowed(ctx, me, user, changes);
				const { currentPassword: _current, password: newPassword, ...fields } = changes;
				const set: Record<string, unknown> = { ...fields, updatedAt: nowIso() };
				if (newPassword) {
					this.checkPasswordStrength(newPassword, user);
					set.passwordHash = await hashPassword(newPassword);
				}
				const role = fields.role ?? user.role;
				const status = fields.status ?? user.status;
				// A new password, role or status ends every session of the user (tokens of the old epoch).
				const update = endsSessions(user, changes) ? { $set: set, $inc: { sessionEpoch: 1 } } : { $set: set };
				const events: PendingEvent[] = [{ type: "user.updated", data: { userId: id, role, status, changed } }];
				// The catalog's listing follows the profile at once (it only knew supplier.created).
				if (supplierListingChanged(user, changed))
					events.push({ type: "supplier.updated", data: supplierCatalogEntry({ ...user, ...fields } as User) });
				const updated = await this.updateEntity(ctx, id, update, events);
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
					{ $set: { status: "deleted", deletedAt: nowIso(), updatedAt: nowIso() }, $inc: { sessionEpoch: 1 } },
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
	},

	methods: {
		/** The rules of lib/domain/users.ts updateProblem as errors; a wrong current password is a 403. */
		async checkUpdateAllowed(
			this: ThisService,
			ctx: Ctx<unknown>,
			me: AuthUser,
			user: User,
			changes: UserChanges,
		): Promise<void> {
			const problem = updateProblem(me, user, { ...changes }, this.settings.requireAdminMfa);
			if (problem === "forbidden") throw forbidden("You may not change these fields of this user");
			if (problem === "mfa") throw clientError("MFA_REQUIRED", "Confirm this change with an MFA-verified login");
			if (problem === "use_verification")
				throw conflict("A pending supplier or courier becomes active through document review");
			if (problem === "current_password")
				throw unprocessable("Give your current password to change it", [
					{ field: "currentPassword", type: "required" },
				]);
			if (changes.password && me.id === user._id) {
				// Guessing the current password is throttled like signing in (per account).
				await this.refuseWhileBlocked(user.email);
				if (!(await verifyPassword(changes.currentPassword || "", user.passwordHash))) {
					await this.signInFailed(ctx, user.email, user);
					throw forbidden("The current password is wrong");
				}
			}
		},

		/** 422 on the password field when zxcvbn finds it too easy to guess (the e-mail and name count against it). */
		checkPasswordStrength(this: ThisService, password: string, user: { email: string; name?: string }): void {
			const problem = weakPasswordProblem(password, [user.email, user.name ?? ""]);
			if (problem)
				throw new Errors.ValidationError(problem, "VALIDATION_ERROR", [
					{ type: "passwordWeak", field: "password", message: problem },
				]);
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
		const cfg = config();
		this.settings.requireAdminMfa = cfg.requireAdminMfa;
		// Failed sign-ins per account: in Redis when RATE_LIMIT_REDIS is set (shared by every instance).
		this.loginThrottle = attemptStore(cfg);
		if (cfg.production && !cfg.requireAdminMfa)
			this.logger.warn("REQUIRE_ADMIN_MFA=false in production: admins may do sensitive operations without MFA");
	},

	async stopped(this: ThisService) {
		await this.loginThrottle.close();
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
