/**
 * Signing in and out: login (password, then the TOTP code when MFA is on), logout, MFA enrolment,
 * and what keeps them safe:
 *
 * - failed sign-ins are counted per target account, whoever asks (lib/domain/login-throttle.ts):
 *   a growing delay, then a lockout the owner is told about (user.locked_out); while blocked a
 *   sign-in is a 429 with Retry-After before the password is looked at;
 * - a TOTP code is accepted once per time step (the step is recorded with compare-and-set);
 * - tokens carry the user's session epoch: logout (and a password, role or status change, or a
 *   deletion: services/users.service.ts) moves it on, and the gateway refuses older tokens;
 * - access tokens are short-lived; a sign-in also hands out a refresh token, exchanged once for the
 *   next pair (rotation); a used token shown again revokes its whole family (lib/infra/refresh-tokens.ts).
 */
import type { ServiceSchema } from "moleculer";
import type { AuthUser, Ctx } from "../../../lib/contracts";
import type {
	DeviceSession,
	LoginParams,
	MfaEnableParams,
	MfaSetupResult,
	RefreshParams,
	RefreshRecord,
	Session,
	User,
} from "../../../lib/contracts/users";
import { isLockout, retryAfterSeconds } from "../../../lib/domain/login-throttle";
import { normalizeEmail } from "../../../lib/domain/users";
import { issueToken } from "../../../lib/infra/auth";
import { clientError, conflict, forbidden, notFound, unauthorized } from "../../../lib/infra/errors";
import { nowIso } from "../../../lib/infra/ids";
import { qrDataUrl } from "../../../lib/infra/qr";
import { accountKey } from "../../../lib/infra/login-throttle";
import { config } from "../../../lib/infra/config";
import { durationMs, newRefreshToken, parseRefreshToken } from "../../../lib/infra/refresh-tokens";
import { DUMMY_HASH, verifyPassword } from "../../../lib/infra/passwords";
import { newTotpSecret, totpStep, totpUri } from "../../../lib/infra/totp";
import type { Settings, ThisService } from "./types";

const schema: Partial<ServiceSchema<Settings, ThisService>> = {
	actions: {
		login: {
			rest: "POST /auth/login",
			auth: "public",
			params: {
				email: { type: "string", max: 254 },
				password: { type: "string", max: 128 },
				code: { type: "string", pattern: /^\d{6}$/, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<LoginParams>): Promise<Session> {
				const email = normalizeEmail(ctx.params.email);
				await this.refuseWhileBlocked(email);
				const user = await this.findOneEntity({ email });
				const ok = await verifyPassword(ctx.params.password, user ? user.passwordHash : DUMMY_HASH);
				if (!user || !ok) {
					await this.signInFailed(ctx, email, user);
					throw unauthorized("Wrong e-mail or password", "INVALID_CREDENTIALS");
				}
				if (user.status === "suspended" || user.status === "deleted")
					throw forbidden("Account is suspended or deleted");
				if (user.mfaEnabled) {
					if (!ctx.params.code) throw unauthorized("Enter the code from your authenticator app", "MFA_CODE_REQUIRED");
					if (!user.mfaSecret || !(await this.acceptTotp(ctx, user, user.mfaSecret, ctx.params.code))) {
						await this.signInFailed(ctx, email, user);
						throw unauthorized("Wrong MFA code, or a code that was already used", "INVALID_MFA_CODE");
					}
				}
				await this.loginThrottle.reset(accountKey(email));
				return this.session(user, !!user.mfaEnabled);
			},
		},

		/**
		 * A refresh token for the next access token and refresh token (the one sent is used up). A
		 * token already used or revoked revokes its whole family; one from before a session-ending
		 * change (logout, password…) is refused.
		 */
		refresh: {
			rest: "POST /auth/refresh",
			auth: "public",
			params: { refreshToken: { type: "string", min: 3, max: 200 } },
			async handler(this: ThisService, ctx: Ctx<RefreshParams>): Promise<Session> {
				const invalid = () => unauthorized("Invalid refresh token; sign in again", "INVALID_REFRESH_TOKEN");
				const parsed = parseRefreshToken(ctx.params.refreshToken);
				const record = parsed ? await this.refreshTokens().findById(parsed.id) : null;
				if (!parsed || !record || !parsed.matches(record.secretHash)) throw invalid();
				if (record.revokedAt && !record.usedAt)
					throw unauthorized("This session has ended; sign in again", "SESSION_REVOKED");
				if (record.usedAt) {
					await this.revokeFamily(record.familyId);
					this.logger.warn(
						{ requestId: ctx.requestID, userId: record.userId },
						"A used refresh token was presented again: its family is revoked",
					);
					throw unauthorized("This refresh token was already used; sign in again", "REFRESH_TOKEN_REUSED");
				}
				if (record.expiresAt <= nowIso()) throw invalid();
				const user = await this.findEntity(record.userId);
				if (
					!user ||
					user.status === "suspended" ||
					user.status === "deleted" ||
					(user.sessionEpoch ?? 0) !== record.epoch
				)
					throw unauthorized("This session has ended; sign in again", "SESSION_REVOKED");
				// Two refreshes racing with one token: one wins, the other is a reuse.
				const used = await this.refreshTokens().updateOne(
					{ _id: record._id, usedAt: { $exists: false }, revokedAt: { $exists: false } },
					{ $set: { usedAt: nowIso() } },
				);
				if (!used) {
					await this.revokeFamily(record.familyId);
					throw unauthorized("This refresh token was already used; sign in again", "REFRESH_TOKEN_REUSED");
				}
				return this.session(user, record.mfa, record.familyId);
			},
		},

		/** Ends every session of the signed-in user (the session epoch moves on). */
		logout: {
			rest: "POST /auth/logout",
			params: {},
			async handler(this: ThisService, ctx: Ctx): Promise<{ loggedOut: true }> {
				const me = ctx.meta.user!;
				await this.updateEntity(ctx, me.id, { $inc: { sessionEpoch: 1 }, $set: { updatedAt: nowIso() } });
				await this.refreshTokens().updateMany(
					{ userId: me.id, revokedAt: { $exists: false } },
					{ $set: { revokedAt: nowIso() } },
				);
				return { loggedOut: true };
			},
		},

		/** The signed-in user's devices: one per sign-in whose refresh token is still usable. */
		sessions: {
			rest: "GET /auth/sessions",
			params: {},
			async handler(this: ThisService, ctx: Ctx): Promise<{ rows: DeviceSession[] }> {
				const me = ctx.meta.user!;
				const user = await this.getEntityOr404(me.id, "user");
				const now = nowIso();
				const heads = await this.refreshTokens().find({
					query: { userId: me.id, usedAt: { $exists: false }, revokedAt: { $exists: false }, expiresAt: { $gt: now } },
					sort: { createdAt: -1 },
					limit: 100,
				});
				const rows: DeviceSession[] = [];
				for (const head of heads.filter((r) => r.epoch === (user.sessionEpoch ?? 0))) {
					const first = head.familyId === head._id ? head : await this.refreshTokens().findById(head.familyId);
					rows.push({
						id: head.familyId,
						signedInAt: first ? first.createdAt : null,
						lastRenewedAt: head.createdAt,
						expiresAt: head.expiresAt,
						mfa: head.mfa,
					});
				}
				return { rows };
			},
		},

		/**
		 * Ends one device's session: its refresh tokens are revoked, so it cannot renew; its access
		 * token runs out within JWT_EXPIRES_IN (logout ends every session at once).
		 */
		revokeSession: {
			rest: "DELETE /auth/sessions/:id",
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<{ id: string }>): Promise<{ revoked: true; id: string }> {
				const me = ctx.meta.user!;
				const own = await this.refreshTokens().findOne({ familyId: ctx.params.id, userId: me.id });
				if (!own) throw notFound("session", ctx.params.id);
				await this.revokeFamily(ctx.params.id);
				return { revoked: true, id: ctx.params.id };
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
				const otpauthUri = totpUri(secret, user.email);
				return { secret, otpauthUri, qrDataUrl: await qrDataUrl(otpauthUri) };
			},
		},

		mfaEnable: {
			rest: "POST /auth/mfa/enable",
			auth: { roles: ["admin"] },
			params: { code: { type: "string", pattern: /^\d{6}$/ } },
			async handler(this: ThisService, ctx: Ctx<MfaEnableParams>): Promise<Session> {
				const user = await this.getEntityOr404(ctx.meta.user!.id, "user");
				if (!user.mfaPendingSecret) throw conflict("Start with POST /api/auth/mfa/setup");
				await this.refuseWhileBlocked(user.email);
				const step = totpStep(user.mfaPendingSecret, ctx.params.code);
				if (step === null) {
					await this.signInFailed(ctx, user.email, user);
					throw unauthorized("Wrong MFA code", "INVALID_MFA_CODE");
				}
				// The enrolling code's step is used up: it cannot sign in again.
				const updated = await this.updateEntity(
					ctx,
					user._id,
					{
						$set: { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, mfaLastStep: step, updatedAt: nowIso() },
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
	},

	methods: {
		async session(this: ThisService, user: User, mfa: boolean, familyId?: string): Promise<Session> {
			const refresh = newRefreshToken();
			const now = Date.now();
			// A sign-in (a new family) clears the user's expired refresh records.
			if (!familyId)
				await this.refreshTokens().removeMany({ userId: user._id, expiresAt: { $lt: new Date(now).toISOString() } });
			await this.refreshTokens().insert({
				_id: refresh.id,
				familyId: familyId ?? refresh.id,
				userId: user._id,
				secretHash: refresh.secretHash,
				epoch: user.sessionEpoch ?? 0,
				mfa,
				expiresAt: new Date(now + durationMs(config().refreshTokenTtl)).toISOString(),
				createdAt: new Date(now).toISOString(),
			});
			const authUser: AuthUser = {
				id: user._id,
				role: user.role,
				status: user.status,
				mfa,
				mfaEnabled: !!user.mfaEnabled,
				supplierId: user.supplierId || null,
				sessionEpoch: user.sessionEpoch ?? 0,
			};
			return { token: issueToken(authUser), refreshToken: refresh.token, user: this.publicUser(user) };
		},

		refreshTokens(this: ThisService) {
			return this.kind<RefreshRecord>("refreshTokens");
		},

		async revokeFamily(this: ThisService, familyId: string): Promise<void> {
			await this.refreshTokens().updateMany(
				{ familyId, revokedAt: { $exists: false } },
				{ $set: { revokedAt: nowIso() } },
			);
		},

		async refuseWhileBlocked(this: ThisService, email: string): Promise<void> {
			const state = await this.loginThrottle.state(accountKey(normalizeEmail(email)));
			const seconds = retryAfterSeconds(state, Date.now());
			if (seconds > 0)
				throw clientError("TOO_MANY_ATTEMPTS", "Too many failed sign-ins for this account: try again later", {
					retryAfterSeconds: seconds,
				});
		},

		async signInFailed(this: ThisService, ctx: Ctx<unknown>, email: string, user: User | null): Promise<void> {
			const state = await this.loginThrottle.fail(accountKey(normalizeEmail(email)));
			if (!isLockout(state.failures)) return;
			this.logger.warn(
				{ requestId: ctx.requestID, userId: user?._id ?? null, failures: state.failures },
				"Account locked after failed sign-ins",
			);
			if (user)
				await this.publishEvent(
					"user.locked_out",
					{
						userId: user._id,
						role: user.role,
						failures: state.failures,
						lockedUntil: new Date(state.blockedUntil).toISOString(),
					},
					ctx,
				).catch((err: Error) => this.logger.warn(`user.locked_out not published: ${err.message}`));
		},

		async acceptTotp(this: ThisService, ctx: Ctx<unknown>, user: User, secret: string, code: string): Promise<boolean> {
			const step = totpStep(secret, code);
			if (step === null) return false;
			if (typeof user.mfaLastStep === "number" && step <= user.mfaLastStep) return false;
			// Two sign-ins racing with one code: one wins the step.
			const won = await this.compareAndSet(
				ctx,
				{ _id: user._id, $or: [{ mfaLastStep: { $exists: false } }, { mfaLastStep: { $lt: step } }] },
				{ $set: { mfaLastStep: step } },
			);
			return !!won;
		},
	},
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const UsersSessionsMixin = schema as unknown as Partial<ServiceSchema>;
