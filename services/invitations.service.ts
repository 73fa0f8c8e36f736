/**
 * Invitations: suppliers and couriers join only with an invite code. An admin invites suppliers
 * and couriers; a verified supplier invites its own couriers. users.register claims the invite
 * (claim/releaseClaim); user.created marks it accepted; a timer expires overdue invites and
 * recovers claims left by crashed registrations.
 */
import { Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { AuthUser, Ctx, Page } from "../lib/contracts";
import { pageParams } from "../lib/contracts/params";
import type {
	ClaimedInvite,
	ClaimParams,
	CreateInviteParams,
	ExpireDueResult,
	Invite,
	InviteCodeParams,
	InviteIdParams,
	InviteLookup,
	ListInvitesParams,
	PublicInvite,
	ReleaseResult,
} from "../lib/contracts/invitations";
import type { Contact } from "../lib/contracts/users";
import { config } from "../lib/infra/config";
import { clientError, conflict, forbidden, notFound } from "../lib/infra/errors";
import { newId, newInviteCode, nowIso } from "../lib/infra/ids";
import {
	buildInvite,
	claimedInvite,
	effectiveStatus,
	emailMatches,
	INVITE_ROLES,
	INVITE_STATUSES,
	invitationAcceptedData,
	invitationCreatedData,
	invitationExpiredData,
	invitePermissionProblem,
	InviteProblem,
	inviteProblem,
	problemError,
	statusQuery,
} from "../lib/domain/invites";

interface Settings {
	rest: string;
}

interface OwnMethods {
	newInvite(ctx: Ctx<CreateInviteParams>, me: AuthUser): Promise<Invite>;
	notUsableError(invite: Invite): Error;
	markAccepted(ctx: Ctx<unknown>, inviteId: string, userId: string): Promise<void>;
	recoverStaleClaims(ctx: Ctx<unknown>): Promise<number>;
	expireOne(ctx: Ctx<unknown>, invite: Invite, now: string): Promise<boolean>;
	publicInvite(invite: Invite, now?: Date): PublicInvite;
	sweep(): Promise<void>;
}

interface OwnState {
	broker: Service["broker"] & { whenEventsReady(): Promise<void> };
	inviteTtlHours: number;
	sweepIntervalMs: number;
	claimTimeoutMs: number;
}

type ThisService = Service<Settings> & DbMethods<Invite> & EventsMethods & OwnMethods & OwnState;

const code = { type: "string", min: 16, max: 64, pattern: /^[A-Za-z0-9_-]+$/ };
const SWEEP = "invite-sweep";

function inviteError(problem: InviteProblem): Error {
	const e = problemError(problem);
	return clientError(e.type, e.message);
}

const businessEvents: BusinessEventHandlers<ThisService> = {
	async "user.created"(envelope, ctx) {
		const { inviteId, userId } = envelope.data;
		if (!inviteId) return;
		await this.markAccepted(ctx, inviteId, userId);
	},
};

const InvitationsService: ServiceSchema<Settings, ThisService> = {
	name: "invitations",
	mixins: [
		TimersMixin,
		DbMixin<Invite>({
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
			async handler(this: ThisService, ctx: Ctx<CreateInviteParams>): Promise<PublicInvite> {
				const me = ctx.meta.user!;
				const problem = invitePermissionProblem(me, ctx.params.role);
				if (problem) throw forbidden(problem);
				const draft = await this.newInvite(ctx, me);
				const invite = await this.insertEntity(ctx, draft, [
					{ type: "invitation.created", data: invitationCreatedData(draft) },
				]);
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
				...pageParams,
			},
			async handler(this: ThisService, ctx: Ctx<ListInvitesParams>): Promise<Page<PublicInvite>> {
				const { page, pageSize, status, role } = ctx.params;
				const me = ctx.meta.user!;
				const now = new Date();
				const query: Record<string, unknown> = status ? statusQuery(status, now) : {};
				if (role) query.role = role;
				if (me.role !== "admin") query.invitedBy = me.id;
				const found = await this.paginate(query, { page, pageSize, sort: ["-createdAt"] });
				return { ...found, rows: found.rows.map((i) => this.publicInvite(i, now)) };
			},
		},

		lookup: {
			// By its code, a named segment (ids own /invites/:id); GET /invites/:code is the older path, kept for clients.
			rest: ["GET /invites/by-code/:code", "GET /invites/:code"],
			auth: "public",
			params: { code: { type: "string", max: 128 } },
			async handler(this: ThisService, ctx: Ctx<InviteCodeParams>): Promise<InviteLookup> {
				const invite = await this.findOneEntity({ code: ctx.params.code });
				if (!invite) throw notFound("invite");
				const reason = inviteProblem(invite, new Date());
				return {
					id: invite._id,
					code: invite.code,
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
			async handler(this: ThisService, ctx: Ctx<InviteIdParams>): Promise<PublicInvite> {
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
			async handler(this: ThisService, ctx: Ctx<ClaimParams>): Promise<ClaimedInvite> {
				const invite = await this.findOneEntity({ code: ctx.params.code });
				if (!invite) throw notFound("invite");
				const problem = inviteProblem(invite, new Date());
				if (problem) throw inviteError(problem);
				if (!emailMatches(invite, ctx.params.email))
					throw clientError("INVITE_EMAIL_MISMATCH", "This invite is for another e-mail address");
				const claimed = await this.compareAndSet(
					ctx,
					{ _id: invite._id, status: "pending", expiresAt: { $gt: nowIso() } },
					{ $set: { status: "claimed", claimedAt: nowIso(), updatedAt: nowIso() } },
				);
				if (!claimed) throw this.notUsableError(await this.getEntityOr404(invite._id, "invite"));
				return claimedInvite(claimed);
			},
		},

		/** Internal (users.register): the user could not be created, so the invite is usable again. */
		releaseClaim: {
			visibility: "public",
			params: { id: { type: "string", max: 64 } },
			async handler(this: ThisService, ctx: Ctx<InviteIdParams>): Promise<ReleaseResult> {
				const released = await this.compareAndSet(
					ctx,
					{ _id: ctx.params.id, status: "claimed" },
					{ $set: { status: "pending", updatedAt: nowIso() }, $unset: { claimedAt: true } },
				);
				return { released: !!released };
			},
		},

		/** Internal: expires pending invites past their expiry and recovers stale claims (the sweep timer calls it; so can operators). */
		expireDue: {
			visibility: "public",
			params: {},
			async handler(this: ThisService, ctx: Ctx): Promise<ExpireDueResult> {
				const now = nowIso();
				const due = await this.findEntities({ query: { status: "pending", expiresAt: { $lte: now } }, limit: 500 });
				let expired = 0;
				for (const invite of due) if (await this.expireOne(ctx, invite, now)) expired++;
				const recovered = await this.recoverStaleClaims(ctx);
				return recovered ? { expired, recovered } : { expired };
			},
		},
	},

	businessEvents,

	methods: {
		async newInvite(this: ThisService, ctx: Ctx<CreateInviteParams>, me: AuthUser): Promise<Invite> {
			const inviter = await ctx.call<Contact | null, { id: string }>("users.contact", { id: me.id });
			return buildInvite({
				id: newId(),
				code: newInviteCode(),
				email: ctx.params.email,
				role: ctx.params.role,
				message: ctx.params.message,
				inviter: { id: me.id, role: me.role, name: inviter?.name || null },
				now: new Date(),
				ttlHours: ctx.params.expiresInHours || this.inviteTtlHours,
			});
		},

		/** The reason a pending-only transition failed, as an error. */
		notUsableError(this: ThisService, invite: Invite): Error {
			const problem = inviteProblem(invite, new Date());
			return problem ? inviteError(problem) : conflict("The invite changed meanwhile, try again");
		},

		/**
		 * claimed → accepted exactly once, with invitation.accepted in the same write. A redelivered
		 * user.created finds the invite already accepted (its event recorded then) and does nothing.
		 */
		async markAccepted(this: ThisService, ctx: Ctx<unknown>, inviteId: string, userId: string): Promise<void> {
			const invite = await this.findEntity(inviteId);
			if (invite && invite.status === "accepted" && invite.userId === userId) return;
			const accepted =
				invite &&
				(await this.compareAndSet(
					ctx,
					{ _id: inviteId, status: "claimed" },
					{ $set: { status: "accepted", userId, acceptedAt: nowIso(), updatedAt: nowIso() } },
					[{ type: "invitation.accepted", data: invitationAcceptedData(invite, userId) }],
				));
			if (!accepted) {
				const now = await this.findEntity(inviteId);
				if (now && now.status === "accepted" && now.userId === userId) return;
				this.logger.warn(
					{ requestId: ctx.requestID, inviteId, userId },
					"user.created names an invite not claimed by this user",
				);
			}
		},

		/**
		 * A registration that crashed between claiming the invite and creating the user leaves it
		 * "claimed" for good. Past the claim timeout: if the user exists, the invite is accepted (as
		 * user.created would do); if not, it is usable again. Skipped while users is unreachable.
		 */
		async recoverStaleClaims(this: ThisService, ctx: Ctx<unknown>): Promise<number> {
			const cutoff = new Date(Date.now() - this.claimTimeoutMs).toISOString();
			const stale = await this.findEntities({ query: { status: "claimed", claimedAt: { $lte: cutoff } }, limit: 100 });
			let recovered = 0;
			for (const invite of stale) {
				let userId: string | null;
				try {
					userId = await ctx.call<string | null, { inviteId: string }>("users.idByInvite", { inviteId: invite._id });
				} catch (err) {
					this.logger.warn(`${SWEEP}: stale invite claims left for later: ${(err as Error).message}`);
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

		async expireOne(this: ThisService, ctx: Ctx<unknown>, invite: Invite, now: string): Promise<boolean> {
			const expired = await this.compareAndSet(
				ctx,
				{ _id: invite._id, status: "pending", expiresAt: { $lte: now } },
				{ $set: { status: "expired", expiredAt: now, updatedAt: now } },
				[{ type: "invitation.expired", data: invitationExpiredData(invite) }],
			);
			return !!expired;
		},

		/** The inviter's view (code included: they hand it to the invitee). */
		publicInvite(this: ThisService, invite: Invite, now = new Date()): PublicInvite {
			const { _id, acceptedPublished: _legacy, ...rest } = invite;
			return { id: _id, ...rest, status: effectiveStatus(invite, now) };
		},

		/** One run of the sweep timer (expireDue writes events: it waits until they are connected). */
		async sweep(this: ThisService): Promise<void> {
			await this.broker.whenEventsReady();
			const { expired, recovered } = await this.broker.call<ExpireDueResult, object>("invitations.expireDue", {});
			if (expired || recovered)
				this.logger.info(`${SWEEP}: expired ${expired} invite(s), recovered ${recovered || 0} stale claim(s).`);
		},
	},

	// TimersMixin: every INVITE_EXPIRY_SWEEP_MS (0 = off), never overlapping, stopped with the service.
	timers: {
		[SWEEP]: {
			everyMs(this: ThisService) {
				return this.sweepIntervalMs;
			},
			run(this: ThisService) {
				return this.sweep();
			},
		},
	} satisfies TimerJobs<ThisService>,

	created(this: ThisService) {
		// Read at creation, like every setting, so each broker (and each test) sees its own environment.
		const cfg = config();
		this.inviteTtlHours = cfg.inviteTtlHours;
		this.sweepIntervalMs = cfg.inviteExpirySweepMs;
		this.claimTimeoutMs = cfg.inviteClaimTimeoutMs;
	},
};

export = InvitationsService;
