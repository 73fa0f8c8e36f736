/**
 * Invitations: suppliers and couriers join only with an invite code. An admin invites suppliers
 * and couriers; a verified supplier invites its own couriers. users.register claims the invite
 * (claim/releaseClaim); user.created marks it accepted; a timer expires overdue invites.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import { forbidden, notFound } from "../lib/infra/errors";
import { EventEnvelope } from "../lib/domain/events";
import { newInviteCode, nowIso } from "../lib/infra/ids";
import {
	effectiveStatus,
	emailMatches,
	expiresAt,
	INVITE_ROLES,
	INVITE_STATUSES,
	invitePermissionProblem,
	inviteProblem,
	problemError,
	statusQuery,
} from "../lib/domain/invites";
import { normalizeEmail } from "../lib/domain/users";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Invite = any;

const code = { type: "string", min: 16, max: 64, pattern: /^[A-Za-z0-9_-]+$/ };

function inviteError(problem: "expired" | "revoked" | "used") {
	const e = problemError(problem);
	return new Errors.MoleculerClientError(e.message, e.code, e.type);
}

const InvitationsService: ServiceSchema = {
	name: "invitations",
	mixins: [
		DbMixin({
			collection: "invitations",
			indexes: [{ fields: { code: 1 }, unique: true }, { fields: { invitedBy: 1 } }, { fields: { status: 1 } }],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /invites",
			auth: { roles: ["admin", "supplier"] },
			params: {
				email: { type: "email", max: 254 },
				role: { type: "enum", values: INVITE_ROLES },
				message: { type: "string", max: 1000, trim: true, optional: true },
				expiresInHours: { type: "number", integer: true, min: 1, max: 24 * 30, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const me = ctx.meta.user!;
				const problem = invitePermissionProblem(me, ctx.params.role);
				if (problem) throw forbidden(problem);
				const invite = await this.insertEntity(ctx, await this.newInvite(ctx, me));
				await this.publishEvent("invitation.created", this.createdEventData(invite), ctx);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/invites/${invite.code}`;
				return this.publicInvite(invite);
			},
		},

		list: {
			rest: "GET /invites",
			auth: { roles: ["admin", "supplier"] },
			params: {
				status: { type: "enum", values: INVITE_STATUSES, optional: true },
				role: { type: "enum", values: INVITE_ROLES, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, status, role } = ctx.params;
				const me = ctx.meta.user!;
				const now = new Date();
				const query: Record<string, unknown> = status ? statusQuery(status, now) : {};
				if (role) query.role = role;
				if (me.role !== "admin") query.invitedBy = me.id;
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((i: Invite) => this.publicInvite(i, now)), total, page, pageSize };
			},
		},

		lookup: {
			rest: "GET /invites/:code",
			auth: "public",
			params: { code: { type: "string", max: 128 } },
			async handler(this: any, ctx: Ctx) {
				const invite = await this.findOneEntity({ code: ctx.params.code });
				if (!invite) throw notFound("invite");
				const reason = inviteProblem(invite, new Date());
				return {
					valid: reason === null,
					reason,
					role: invite.role,
					invitedBy: { name: invite.inviterName, role: invite.inviterRole },
				};
			},
		},

		revoke: {
			rest: "POST /invites/:id/revoke",
			auth: { roles: ["admin", "supplier"] },
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const me = ctx.meta.user!;
				const invite = await this.getEntityOr404(ctx.params.id, "invite");
				if (me.role !== "admin" && invite.invitedBy !== me.id)
					throw forbidden("Only its inviter or an admin can revoke an invite");
				if (invite.status === "revoked") return this.publicInvite(invite);
				const revoked = await this.compareAndSet(
					ctx,
					{ _id: invite._id, status: "pending" },
					{ $set: { status: "revoked", revokedAt: nowIso(), revokedBy: me.id, updatedAt: nowIso() } },
				);
				if (!revoked) throw this.notUsableError(await this.getEntityOr404(invite._id, "invite"));
				return this.publicInvite(revoked);
			},
		},

		/** Internal (users.register): pending → claimed, atomically; the loser of a race gets 409. */
		claim: {
			visibility: "public",
			params: { code, email: { type: "email", max: 254 } },
			async handler(this: any, ctx: Ctx) {
				const invite = await this.findOneEntity({ code: ctx.params.code });
				if (!invite) throw notFound("invite");
				const problem = inviteProblem(invite, new Date());
				if (problem) throw inviteError(problem);
				if (!emailMatches(invite, ctx.params.email))
					throw new Errors.MoleculerClientError(
						"This invite is for another e-mail address",
						403,
						"INVITE_EMAIL_MISMATCH",
					);
				const claimed = await this.compareAndSet(
					ctx,
					{ _id: invite._id, status: "pending", expiresAt: { $gt: nowIso() } },
					{ $set: { status: "claimed", claimedAt: nowIso(), updatedAt: nowIso() } },
				);
				if (!claimed) throw this.notUsableError(await this.getEntityOr404(invite._id, "invite"));
				return {
					id: claimed._id,
					role: claimed.role,
					supplierId: claimed.supplierId || null,
					invitedBy: claimed.invitedBy,
				};
			},
		},

		/** Internal (users.register): the user could not be created, so the invite is usable again. */
		releaseClaim: {
			visibility: "public",
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const released = await this.compareAndSet(
					ctx,
					{ _id: ctx.params.id, status: "claimed" },
					{ $set: { status: "pending", updatedAt: nowIso() }, $unset: { claimedAt: true } },
				);
				return { released: !!released };
			},
		},

		/** Internal: expires pending invites past their expiry (the sweep timer calls it; so can tests and operators). */
		expireDue: {
			visibility: "public",
			params: {},
			async handler(this: any, ctx: Ctx) {
				const now = nowIso();
				const due = await this.findEntities({ query: { status: "pending", expiresAt: { $lte: now } }, limit: 500 });
				let expired = 0;
				for (const invite of due) if (await this.expireOne(ctx, invite, now)) expired++;
				const recovered = await this.recoverStaleClaims(ctx);
				return recovered ? { expired, recovered } : { expired };
			},
		},
	} as any,

	businessEvents: {
		async "user.created"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { inviteId, userId } = envelope.data;
			if (!inviteId) return;
			await this.markAccepted(ctx, inviteId, userId);
		},
	},

	methods: {
		async newInvite(this: any, ctx: Ctx, me: AuthUser): Promise<Invite> {
			const inviter: any = await ctx.call("users.contact", { id: me.id });
			const now = new Date();
			return {
				code: newInviteCode(),
				email: normalizeEmail(ctx.params.email),
				role: ctx.params.role,
				message: ctx.params.message || null,
				invitedBy: me.id,
				inviterRole: me.role,
				inviterName: (inviter && inviter.name) || null,
				supplierId: me.role === "supplier" ? me.id : null,
				status: "pending",
				expiresAt: expiresAt(now, ctx.params.expiresInHours || this.inviteTtlHours),
				createdAt: now.toISOString(),
				updatedAt: now.toISOString(),
			};
		},

		/** The reason a pending-only transition failed, as an error. */
		notUsableError(invite: Invite) {
			const problem = inviteProblem(invite, new Date());
			if (problem) return inviteError(problem);
			return new Errors.MoleculerClientError("The invite changed meanwhile, try again", 409, "CONFLICT");
		},

		/**
		 * claimed → accepted exactly once. A redelivered user.created finds the invite accepted by
		 * the same user and publishes again only if the first attempt died before publishing.
		 */
		async markAccepted(this: any, ctx: Ctx, inviteId: string, userId: string) {
			let invite = await this.compareAndSet(
				ctx,
				{ _id: inviteId, status: "claimed" },
				{ $set: { status: "accepted", userId, acceptedAt: nowIso(), updatedAt: nowIso() } },
			);
			if (!invite) {
				invite = await this.findEntity(inviteId);
				if (!invite || invite.status !== "accepted" || invite.userId !== userId || invite.acceptedPublished) {
					if (!invite || invite.userId !== userId)
						this.logger.warn(
							{ requestId: ctx.requestID, inviteId, userId },
							"user.created names an invite not claimed by this user",
						);
					return;
				}
			}
			await this.publishEvent(
				"invitation.accepted",
				{ inviteId, userId, role: invite.role, supplierId: invite.supplierId || null, invitedBy: invite.invitedBy },
				ctx,
			);
			await this.updateEntity(ctx, inviteId, { $set: { acceptedPublished: true } });
		},

		/**
		 * A registration that crashed between claiming the invite and creating the user leaves it
		 * "claimed" for good. Past the claim timeout: if the user exists, the invite is accepted (as
		 * user.created would do); if not, it is usable again. Skipped while users is unreachable.
		 */
		async recoverStaleClaims(this: any, ctx: Ctx): Promise<number> {
			const cutoff = new Date(Date.now() - this.claimTimeoutMs).toISOString();
			const stale = await this.findEntities({ query: { status: "claimed", claimedAt: { $lte: cutoff } }, limit: 100 });
			let recovered = 0;
			for (const invite of stale) {
				let userId: string | null;
				try {
					userId = await ctx.call("users.idByInvite", { inviteId: invite._id });
				} catch (err: any) {
					this.logger.warn(`Stale invite claims left for later: ${err.message}`);
					break;
				}
				if (userId) await this.markAccepted(ctx, invite._id, userId);
				else
					await this.compareAndSet(
						ctx,
						{ _id: invite._id, status: "claimed", claimedAt: invite.claimedAt },
						{ $set: { status: "pending", updatedAt: nowIso() }, $unset: { claimedAt: true } },
					);
				recovered++;
			}
			return recovered;
		},

		async expireOne(this: any, ctx: Ctx, invite: Invite, now: string): Promise<boolean> {
			const expired = await this.compareAndSet(
				ctx,
				{ _id: invite._id, status: "pending", expiresAt: { $lte: now } },
				{ $set: { status: "expired", expiredAt: now, updatedAt: now } },
			);
			if (!expired) return false;
			await this.publishEvent(
				"invitation.expired",
				{
					inviteId: invite._id,
					email: invite.email,
					role: invite.role,
					invitedBy: invite.invitedBy,
					supplierId: invite.supplierId || null,
				},
				ctx,
			);
			return true;
		},

		createdEventData(invite: Invite) {
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
		},

		/** The inviter's view (code included: they hand it to the invitee). */
		publicInvite(this: any, invite: Invite, now = new Date()) {
			return { ...this.toPublic(invite, ["acceptedPublished"]), status: effectiveStatus(invite, now) };
		},

		async sweepExpired(this: any) {
			try {
				const { expired } = await this.broker.call("invitations.expireDue", {});
				if (expired) this.logger.info(`Expired ${expired} invite(s).`);
			} catch (err: any) {
				this.logger.warn(`Invite expiry sweep failed: ${err.message}`);
			}
		},
	},

	created(this: any) {
		// Read at creation, like every setting, so each broker (and each test) sees its own environment.
		this.inviteTtlHours = config().inviteTtlHours;
		this.sweepIntervalMs = config().inviteExpirySweepMs;
		this.claimTimeoutMs = config().inviteClaimTimeoutMs;
	},

	started(this: any) {
		if (this.sweepIntervalMs > 0)
			this.broker.whenEventsReady().then(() => {
				if (this.sweepStopped) return;
				this.sweepTimer = setInterval(() => this.sweepExpired(), this.sweepIntervalMs);
				this.sweepTimer.unref();
			});
	},

	stopped(this: any) {
		this.sweepStopped = true;
		if (this.sweepTimer) clearInterval(this.sweepTimer);
	},
};

export = InvitationsService;
