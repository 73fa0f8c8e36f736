/**
 * Vouchers: Gás do Povo, the federal programme that pays low-income families' P13 refills at
 * accredited resellers. Rules: lib/domain/vouchers.ts; eligibility: a VoucherEligibilityProvider
 * (lib/infra/voucher-eligibility.ts; the simulated one has test CPFs, see README).
 *
 *   customer POST /api/vouchers/claims {supplierId, productId, cpf, code}
 *     → CPF check digits, code shape, supplier accredited, product a P13, voucher not redeemed,
 *       provider says eligible → a claim (held VOUCHER_CLAIM_TTL_MS) and its token
 *   customer POST /api/orders {paymentMethod: "voucher", paymentToken: <token>}
 *   payments, charging the order → vouchers.redeem (once per voucher; compare-and-set) → voucher.redeemed
 *   order.cancelled → the voucher is released (voucher.released) and may be claimed again
 *
 * Admins mark suppliers accredited; a supplier's redemption report (JSON, CSV) is what the
 * programme reimburses.
 */
import { Context, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { Ctx } from "../lib/contracts/common";
import type {
	Accreditation,
	ClaimParams,
	RedeemParams,
	RedeemResult,
	RedemptionsParams,
	Voucher,
} from "../lib/contracts/vouchers";
import { VOUCHER_PARAMS } from "../lib/contracts/vouchers";
import { isValidCpf, maskCpf, normalizeCpf } from "../lib/domain/cpf";
import { toCsv } from "../lib/domain/csv";
import {
	claimable,
	claimProblem,
	normalizeVoucherCode,
	redeemProblem,
	redemptionReport,
	VOUCHER_PROBLEM_TEXT,
	VoucherProblem,
} from "../lib/domain/vouchers";
import { AppConfig, config } from "../lib/infra/config";
import { clientError, forbidden, unprocessable } from "../lib/infra/errors";
import { nowIso, secureCode } from "../lib/infra/ids";
import { eligibilityProvider, VoucherEligibilityProvider } from "../lib/infra/voucher-eligibility";

interface Settings {
	rest: string;
}
interface OwnMethods {
	isAccredited(supplierId: string): Promise<boolean>;
	productType(ctx: Context, productId: string, supplierId: string): Promise<string | null>;
	refuse(problem: VoucherProblem): Error;
}
type ThisService = Service<Settings> &
	DbMethods<Voucher> &
	EventsMethods &
	OwnMethods & { eligibility: VoucherEligibilityProvider; cfg: AppConfig["vouchers"] };

const CONFLICTS: VoucherProblem[] = ["already_redeemed", "claimed_elsewhere"];

const businessEvents: BusinessEventHandlers<ThisService> = {
	async "order.cancelled"(envelope, ctx) {
		const { orderId, supplierId, reason } = envelope.data;
		if (envelope.data.paymentMethod && envelope.data.paymentMethod !== "voucher") return;
		const voucher = await this.findOneEntity({ orderId, status: "redeemed" });
		if (!voucher) return;
		const now = nowIso();
		await this.compareAndSet(
			ctx,
			{ _id: voucher._id, status: "redeemed", orderId },
			{
				$set: { status: "released", releasedAt: now, releaseReason: reason },
				$push: { history: { status: "released", at: now, orderId } },
			},
			[{ type: "voucher.released", data: { voucherId: voucher._id, orderId, supplierId, reason } }],
		);
	},
};

const VouchersService: ServiceSchema<Settings, ThisService> = {
	name: "vouchers",
	mixins: [
		EventsMixin,
		DbMixin<Voucher>({
			collection: "vouchers",
			indexes: [
				{ fields: { token: 1 }, unique: true },
				{ fields: { orderId: 1 } },
				{ fields: { supplierId: 1, redeemedAt: 1 } },
			],
			kinds: { accreditations: {} },
		}),
	],
	settings: { rest: "/" },

	actions: {
		/** A customer claims a voucher for an order at an accredited supplier; the token pays the order. */
		claim: {
			rest: "POST /vouchers/claims",
			auth: { roles: ["customer"] },
			params: VOUCHER_PARAMS.claim,
			async handler(this: ThisService, ctx: Ctx<ClaimParams>) {
				const cpf = normalizeCpf(ctx.params.cpf);
				const code = normalizeVoucherCode(ctx.params.code);
				const { supplierId, productId } = ctx.params;
				const problem = claimProblem({
					cpfValid: isValidCpf(cpf),
					code,
					accredited: await this.isAccredited(supplierId),
					productType: await this.productType(ctx, productId, supplierId),
				});
				if (problem) throw this.refuse(problem);
				const existing = await this.findEntity(code);
				const now = new Date();
				if (existing && !claimable(existing, now))
					throw this.refuse(existing.status === "redeemed" ? "already_redeemed" : "claimed_elsewhere");
				const answer = await this.eligibility.check({ cpf, code });
				if (!answer.eligible) throw this.refuse(answer.reason);
				const at = now.toISOString();
				const claim = {
					code,
					status: "claimed" as const,
					cpfMasked: maskCpf(cpf),
					customerId: ctx.meta.user!.id,
					supplierId,
					productId,
					token: `gdp_${secureCode(18)}`,
					claimedAt: at,
					claimExpiresAt: new Date(now.getTime() + this.cfg.claimTtlMs).toISOString(),
				};
				const saved = existing
					? await this.compareAndSet(
							ctx,
							{ _id: code, status: existing.status, claimedAt: existing.claimedAt },
							{
								$set: claim,
								$unset: { orderId: 1, paymentId: 1, amountCents: 1, redeemedAt: 1 },
								$push: { history: { status: "claimed", at } },
							},
						)
					: (
							await this.insertOrGet(
								ctx,
								{ _id: code, ...claim, history: [{ status: "claimed", at }] },
								{ _id: code, token: claim.token },
							)
						).doc;
				if (!saved || saved.token !== claim.token) throw this.refuse("claimed_elsewhere");
				ctx.meta.$statusCode = 201;
				return {
					voucherId: code,
					paymentMethod: "voucher",
					paymentToken: saved.token,
					supplierId,
					productId,
					cpf: saved.cpfMasked,
					expiresAt: saved.claimExpiresAt,
					maxCents: this.cfg.maxCents,
				};
			},
		},

		/** Internal (payments, charging an order paid with a voucher): redeem the claim, once. */
		redeem: {
			visibility: "public",
			params: VOUCHER_PARAMS.redeem,
			async handler(this: ThisService, ctx: Ctx<RedeemParams>): Promise<RedeemResult> {
				const p = ctx.params;
				const voucher = await this.findOneEntity({ token: p.token });
				const problem = redeemProblem(voucher, p, new Date(), this.cfg.maxCents);
				if (problem || !voucher) return { ok: false, reason: problem ?? "claim_unknown" };
				if (voucher.status === "redeemed") return { ok: true, voucherId: voucher._id };
				const at = nowIso();
				const redeemed = await this.compareAndSet(
					ctx,
					{ _id: voucher._id, status: "claimed", token: p.token },
					{
						$set: {
							status: "redeemed",
							orderId: p.orderId,
							paymentId: p.paymentId,
							amountCents: p.amountCents,
							redeemedAt: at,
						},
						$push: { history: { status: "redeemed", at, orderId: p.orderId } },
					},
					[
						{
							type: "voucher.redeemed",
							data: {
								voucherId: voucher._id,
								orderId: p.orderId,
								customerId: p.customerId,
								supplierId: p.supplierId,
								amountCents: p.amountCents,
							},
						},
					],
				);
				if (redeemed) return { ok: true, voucherId: voucher._id };
				const now = await this.findEntity(voucher._id);
				return now?.status === "redeemed" && now.orderId === p.orderId
					? { ok: true, voucherId: voucher._id }
					: { ok: false, reason: "already_redeemed" };
			},
		},

		setAccreditation: {
			rest: "PUT /vouchers/accreditations/:supplierId",
			auth: { roles: ["admin"], mfa: true },
			params: VOUCHER_PARAMS.setAccreditation,
			async handler(this: ThisService, ctx: Ctx<{ supplierId: string; accredited: boolean }>) {
				const { supplierId, accredited } = ctx.params;
				const changedBy = ctx.meta.user!.id;
				const changedAt = nowIso();
				const events = this.envelopes(ctx, [
					{ type: "voucher.accreditation_changed", data: { supplierId, accredited, changedBy } },
				]);
				const kind = this.kind<Accreditation>("accreditations");
				const updated = await kind.updateOne(
					{ _id: supplierId },
					{ $set: { accredited, changedBy, changedAt } },
					events,
				);
				if (!updated) await kind.insert({ _id: supplierId, accredited, changedBy, changedAt }, events);
				void this.flushOutbox();
				return { supplierId, accredited, changedBy, changedAt };
			},
		},

		getAccreditation: {
			rest: "GET /vouchers/accreditations/:supplierId",
			params: VOUCHER_PARAMS.getAccreditation,
			async handler(this: ThisService, ctx: Ctx<{ supplierId: string }>) {
				return { supplierId: ctx.params.supplierId, accredited: await this.isAccredited(ctx.params.supplierId) };
			},
		},

		/** What the programme owes a supplier: its redeemed vouchers (released ones listed, not counted). */
		redemptions: {
			rest: "GET /vouchers/redemptions",
			auth: { roles: ["admin", "supplier"] },
			params: VOUCHER_PARAMS.redemptions,
			async handler(this: ThisService, ctx: Ctx<RedemptionsParams>) {
				const me = ctx.meta.user!;
				if (me.role !== "admin" && ctx.params.supplierId && ctx.params.supplierId !== me.id)
					throw forbidden("You can only see your own redemptions");
				const supplierId = me.role === "admin" ? ctx.params.supplierId : me.id;
				if (!supplierId) throw unprocessable("supplierId is required for an admin", { fields: ["supplierId"] });
				const to = ctx.params.to ?? new Date(Date.now() + 1).toISOString();
				const from = ctx.params.from ?? new Date(Date.parse(to) - 31 * 86_400_000).toISOString();
				if (!(Date.parse(from) < Date.parse(to)))
					throw unprocessable("from must be before to", { fields: ["from", "to"] });
				const rows = await this.findEntities({
					query: {
						supplierId,
						redeemedAt: { $gte: new Date(Date.parse(from)).toISOString(), $lt: new Date(Date.parse(to)).toISOString() },
					},
				});
				const report = redemptionReport(rows.filter((v) => v.status !== "claimed"));
				if (ctx.params.format !== "csv") return { supplierId, from, to, ...report };
				ctx.meta.$responseType = "text/csv; charset=utf-8";
				ctx.meta.$responseHeaders = { "Content-Disposition": `attachment; filename="gas-do-povo-${supplierId}.csv"` };
				return toCsv(report.columns, report.rows);
			},
		},
	},

	businessEvents,

	methods: {
		async isAccredited(this: ThisService, supplierId: string) {
			const found = await this.kind<Accreditation>("accreditations").findById(supplierId);
			return !!found?.accredited;
		},

		/** The product's cylinder type, if it is this supplier's (null otherwise). */
		async productType(this: ThisService, ctx: Context, productId: string, supplierId: string) {
			try {
				const product = await ctx.call<{ type: string; supplierId: string }, { id: string }>("products.get", {
					id: productId,
				});
				return product.supplierId === supplierId ? product.type : null;
			} catch (err) {
				if ((err as { code?: number }).code === 404) return null;
				throw err;
			}
		},

		refuse(problem: VoucherProblem) {
			const type = CONFLICTS.includes(problem) ? "CONFLICT" : "VOUCHER_REFUSED";
			return clientError(type, VOUCHER_PROBLEM_TEXT[problem], { reason: problem });
		},
	},

	created(this: ThisService) {
		// Read when the service is created, so each broker gets its environment.
		this.cfg = config().vouchers;
		this.eligibility = eligibilityProvider(this.cfg.provider);
	},
};

export = VouchersService;
