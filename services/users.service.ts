/**
 * Users: registration (customers by themselves, suppliers and couriers with an invite code),
 * profiles, login with JWT, TOTP MFA for admins, and the first admin.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser, issueToken, ROLES } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import { secret } from "../lib/infra/secrets";
import { conflict, forbidden, notFound, unauthorized, unprocessable } from "../lib/infra/errors";
import { nowIso, secureCode } from "../lib/infra/ids";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../lib/infra/passwords";
import { newTotpSecret, totpUri, verifyTotp } from "../lib/infra/totp";
import { canEditUser, LOCALES, normalizeEmail, SECRET_FIELDS, STATUSES, updateProblem } from "../lib/domain/users";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;

const email = { type: "email", max: 254 };
const password = { type: "string", min: 8, max: 128 };
const location = {
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
		lat: location.props.lat,
		lng: location.props.lng,
	},
};
const hhmm = { type: "string", pattern: /^([01]\d|2[0-3]):[0-5]\d$/ };
const supplierProfile = {
	type: "object",
	optional: true,
	strict: true,
	props: {
		businessName: { type: "string", min: 2, max: 120 },
		location,
		deliveryRadiusKm: { type: "number", positive: true, max: 100 },
		openingHours: { type: "object", optional: true, strict: true, props: { open: hhmm, close: hhmm } },
	},
};
const profileFields = {
	name: { type: "string", min: 1, max: 120, trim: true },
	phone: { type: "string", optional: true, pattern: /^\+?[0-9 ()-]{8,20}$/ },
	locale: { type: "enum", values: LOCALES, optional: true },
	address,
	supplierProfile,
};

const UsersService: ServiceSchema = {
	name: "users",
	mixins: [
		DbMixin({ collection: "users", indexes: [{ fields: { email: 1 }, unique: true }, { fields: { role: 1 } }] }),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		register: {
			rest: "POST /users",
			auth: "public",
			params: { email, password, ...profileFields, inviteCode: { type: "string", min: 16, max: 64, optional: true } },
			async handler(this: any, ctx: Ctx) {
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
				email,
				password,
				...profileFields,
				role: { type: "enum", values: ROLES },
				status: { type: "enum", values: STATUSES, optional: true },
				supplierId: { type: "string", optional: true },
			},
			handler(this: any, ctx: Ctx) {
				const { password: plain, ...fields } = ctx.params;
				return this.createUser(ctx, { status: "active", ...fields }, plain);
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
			async handler(this: any, ctx: Ctx) {
				const user = await this.findOneEntity({ email: normalizeEmail(ctx.params.email) });
				const ok = await verifyPassword(ctx.params.password, user ? user.passwordHash : DUMMY_HASH);
				if (!user || !ok) throw unauthorized("Wrong e-mail or password", "INVALID_CREDENTIALS");
				if (user.status === "suspended" || user.status === "deleted")
					throw forbidden("Account is suspended or deleted");
				if (user.mfaEnabled) {
					if (!ctx.params.code) throw unauthorized("Enter the code from your authenticator app", "MFA_CODE_REQUIRED");
					if (!verifyTotp(user.mfaSecret, ctx.params.code)) throw unauthorized("Wrong MFA code", "INVALID_MFA_CODE");
				}
				return this.session(user, !!user.mfaEnabled);
			},
		},

		mfaSetup: {
			rest: "POST /auth/mfa/setup",
			auth: { roles: ["admin"] },
			params: {},
			async handler(this: any, ctx: Ctx) {
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
			async handler(this: any, ctx: Ctx) {
				const user = await this.getEntityOr404(ctx.meta.user!.id, "user");
				if (!user.mfaPendingSecret) throw conflict("Start with POST /api/auth/mfa/setup");
				if (!verifyTotp(user.mfaPendingSecret, ctx.params.code))
					throw unauthorized("Wrong MFA code", "INVALID_MFA_CODE");
				const updated = await this.updateEntity(ctx, user._id, {
					$set: { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, updatedAt: nowIso() },
					$unset: { mfaPendingSecret: true },
				});
				await this.publishEvent(
					"user.updated",
					{ userId: user._id, role: user.role, status: user.status, changed: ["mfaEnabled"] },
					ctx,
				);
				return this.session(updated, true);
			},
		},

		get: {
			rest: "GET /users/:id",
			params: { id: "string" },
			async handler(this: any, ctx: Ctx) {
				const me = ctx.meta.user!;
				if (me.role !== "admin" && me.id !== ctx.params.id) throw forbidden("You can only see your own profile");
				return this.publicUser(await this.getEntityOr404(ctx.params.id, "user"));
			},
		},

		update: {
			rest: "PUT /users/:id",
			params: {
				id: "string",
				...Object.fromEntries(Object.entries(profileFields).map(([k, v]: any) => [k, { ...v, optional: true }])),
				password: { ...password, optional: true },
				currentPassword: { type: "string", max: 128, optional: true },
				role: { type: "enum", values: ROLES, optional: true },
				status: { type: "enum", values: STATUSES, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { id, ...changes } = ctx.params;
				if (Object.keys(changes).length === 0) throw unprocessable("Nothing to change");
				const me = ctx.meta.user!;
				if (!canEditUser(me, id, Object.keys(changes))) throw forbidden("You may not change these fields of this user");
				const user = await this.getEntityOr404(id, "user");
				if (user.status === "deleted") throw notFound("user", id);
				await this.checkUpdateAllowed(me, user, changes);
				const { currentPassword: _current, ...fields } = changes;
				const set: Record<string, unknown> = { ...fields, updatedAt: nowIso() };
				if (fields.password) {
					delete set.password;
					set.passwordHash = await hashPassword(fields.password);
				}
				const updated = await this.updateEntity(ctx, id, { $set: set });
				await this.publishEvent(
					"user.updated",
					{ userId: id, role: updated.role, status: updated.status, changed: Object.keys(changes) },
					ctx,
				);
				return this.publicUser(updated);
			},
		},

		remove: {
			rest: "DELETE /users/:id",
			auth: { roles: ["admin"], mfa: true },
			params: { id: "string" },
			async handler(this: any, ctx: Ctx) {
				const user = await this.getEntityOr404(ctx.params.id, "user");
				if (user.status === "deleted") return this.publicUser(user);
				const updated = await this.updateEntity(ctx, user._id, {
					$set: { status: "deleted", deletedAt: nowIso(), updatedAt: nowIso() },
				});
				await this.publishEvent("user.deleted", { userId: user._id, role: user.role }, ctx);
				return this.publicUser(updated);
			},
		},

		list: {
			rest: "GET /users",
			auth: { roles: ["admin"] },
			params: {
				role: { type: "enum", values: ROLES, optional: true },
				status: { type: "enum", values: STATUSES, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, ...filter } = ctx.params;
				const query: Record<string, unknown> = {};
				if (filter.role) query.role = filter.role;
				if (filter.status) query.status = filter.status;
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((u: any) => this.publicUser(u)), total, page, pageSize };
			},
		},

		/** Internal, cached: the current role and status behind a token (the gateway asks on every call). */
		authState: {
			visibility: "public",
			cache: { keys: ["id"], ttl: 30 },
			params: { id: "string" },
			async handler(this: any, ctx: Ctx) {
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
			async handler(this: any, ctx: Ctx) {
				const user = await this.getEntityOr404(ctx.params.id, "user");
				if (user.status === "active") return this.publicUser(user);
				const updated = await this.compareAndSet(
					ctx,
					{ _id: user._id, status: "pending_verification" },
					{
						$set: { status: "active", verified: ctx.params.verified || {}, verifiedAt: nowIso(), updatedAt: nowIso() },
					},
				);
				if (!updated) throw conflict(`User is ${user.status}, not pending verification`);
				await this.publishEvent(
					"user.updated",
					{ userId: user._id, role: user.role, status: "active", changed: ["status"] },
					ctx,
				);
				if (updated.role === "supplier")
					await this.publishEvent("supplier.created", this.supplierCatalogEntry(updated), ctx);
				return this.publicUser(updated);
			},
		},

		/** Internal: contact details for notifications (never over HTTP). */
		contact: {
			visibility: "public",
			cache: { keys: ["id"], ttl: 60 },
			params: { id: "string" },
			async handler(this: any, ctx: Ctx) {
				const user = await this.findEntity(ctx.params.id);
				if (!user) return null;
				return {
					id: user._id,
					email: user.email,
					phone: user.phone || null,
					name: user.name,
					locale: user.locale || "pt-BR",
					role: user.role,
					status: user.status,
				};
			},
		},

		/** Internal (invitations, recovering a stale claim): the user registered with an invite, if any. */
		idByInvite: {
			visibility: "public",
			params: { inviteId: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const user = await this.findOneEntity({ inviteId: ctx.params.inviteId });
				return user ? user._id : null;
			},
		},

		/** Internal: ids of users with a role (e.g. every admin, for alerts). */
		idsByRole: {
			visibility: "public",
			params: { role: { type: "enum", values: ROLES } },
			async handler(this: any, ctx: Ctx) {
				const users = await this.findEntities({ query: { role: ctx.params.role, status: "active" } });
				return users.map((u: any) => u._id);
			},
		},
	} as any,

	methods: {
		/** The rules of lib/users.ts updateProblem as errors; a wrong current password is a 403. */
		async checkUpdateAllowed(this: any, me: AuthUser, user: Record<string, any>, changes: Record<string, any>) {
			const problem = updateProblem(me, user as any, changes, this.settings.requireAdminMfa);
			if (problem === "forbidden") throw forbidden("You may not change these fields of this user");
			if (problem === "mfa")
				throw new Errors.MoleculerClientError("Confirm this change with an MFA-verified login", 403, "MFA_REQUIRED");
			if (problem === "use_verification")
				throw conflict("A pending supplier or courier becomes active through document review");
			if (problem === "current_password")
				throw unprocessable("Give your current password to change it", [
					{ field: "currentPassword", type: "required" },
				]);
			if (changes.password && me.id === user._id && !(await verifyPassword(changes.currentPassword, user.passwordHash)))
				throw forbidden("The current password is wrong");
		},

		/** Claims the invite first (a racing second registration gets 409), releases it if creation fails. */
		async registerInvited(this: any, ctx: Ctx, inviteCode: string, profile: Record<string, any>, plain: string) {
			const invite: any = await ctx.call("invitations.claim", { code: inviteCode, email: profile.email });
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
				await ctx.call("invitations.releaseClaim", { id: invite.id }).catch(() => undefined);
				throw err;
			}
		},

		async createUser(this: any, ctx: Ctx, fields: Record<string, any>, plainPassword: string) {
			const emailNorm = normalizeEmail(fields.email);
			if (await this.findOneEntity({ email: emailNorm }))
				throw conflict("This e-mail is already registered", { field: "email" });
			const doc = {
				...fields,
				email: emailNorm,
				locale: fields.locale || "pt-BR",
				passwordHash: await hashPassword(plainPassword),
				mfaEnabled: false,
				createdAt: nowIso(),
				updatedAt: nowIso(),
			};
			const user = await this.insertEntity(ctx, doc);
			await this.publishEvent(
				"user.created",
				{
					userId: user._id,
					email: user.email,
					name: user.name,
					role: user.role,
					status: user.status,
					locale: user.locale,
					inviteId: user.inviteId || null,
					supplierId: user.supplierId || null,
				},
				ctx,
			);
			return this.publicUser(user);
		},

		publicUser(this: any, user: Record<string, any>) {
			return this.toPublic(user, SECRET_FIELDS);
		},

		session(this: any, user: Record<string, any>, mfa: boolean) {
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

		supplierCatalogEntry(user: Record<string, any>) {
			const profile = user.supplierProfile || {};
			return {
				supplierId: user._id,
				name: profile.businessName || user.name,
				anpAuthorization: (user.verified && user.verified.anpAuthorization) || null,
				location: profile.location || null,
				deliveryRadiusKm: profile.deliveryRadiusKm || 10,
				openingHours: profile.openingHours || { open: "00:00", close: "23:59" },
				rating: 5,
			};
		},

		/** The first admin: from ADMIN_EMAIL/ADMIN_PASSWORD, or generated and printed once. */
		async ensureFirstAdmin(this: any) {
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
			} catch (err: any) {
				if (err && err.code === 409) return; // another instance created it first
				throw err;
			}
			if (generated)
				this.logger.warn(
					`First admin created: ${adminEmail} with generated password ${adminPassword} (shown once; set ADMIN_EMAIL and ADMIN_PASSWORD to choose).`,
				);
			else this.logger.info(`First admin created: ${adminEmail} (password from ADMIN_PASSWORD).`);
		},
	},

	created(this: any) {
		this.settings.requireAdminMfa = config().requireAdminMfa;
	},

	/** moleculer-db calls this after every change: gateways drop their cached view of the user. */
	entityUpdated(this: any, doc: Record<string, any>) {
		if (doc && doc._id) this.broker.broadcast("users.authState.changed", { id: doc._id });
	},

	started(this: any) {
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
