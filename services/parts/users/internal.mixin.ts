/**
 * The users service's internal actions (visibility "public": not on the gateway): creating users of
 * any role, the auth state the gateway checks on every call, activation after document review,
 * contact details for notifications, and look-ups by invite and role.
 */
import type { ServiceSchema } from "moleculer";
import type { Ctx, PendingEvent } from "../../../lib/contracts";
import type {
	ActivateParams,
	AuthState,
	Contact,
	CreateUserParams,
	IdByInviteParams,
	IdsByRoleParams,
	PublicUser,
	UserIdParams,
} from "../../../lib/contracts/users";
import { emailParam, passwordParam, profileFieldParams } from "../../../lib/contracts/users";
import { ROLES } from "../../../lib/infra/auth";
import { conflict } from "../../../lib/infra/errors";
import { nowIso } from "../../../lib/infra/ids";
import { DEFAULT_LOCALE, STATUSES, supplierCatalogEntry } from "../../../lib/domain/users";
import type { Settings, ThisService } from "./types";

const schema: Partial<ServiceSchema<Settings, ThisService>> = {
	actions: {
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
					sessionEpoch: user.sessionEpoch ?? 0,
					locale: user.locale,
				};
			},
		},

		/** Internal (receipts): a supplier's name and verified CNPJ, read when a receipt is issued (never carried on events). */
		supplierFacts: {
			visibility: "public",
			params: { id: "string" },
			async handler(
				this: ThisService,
				ctx: Ctx<{ id: string }>,
			): Promise<{ name: string; cnpj: string | null } | null> {
				const user = await this.findEntity(ctx.params.id);
				if (!user || user.role !== "supplier") return null;
				return { name: user.supplierProfile?.businessName || user.name, cnpj: user.verified?.cnpj || null };
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
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const UsersInternalMixin = schema as unknown as Partial<ServiceSchema>;
