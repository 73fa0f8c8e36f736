/**
 * Job offers (DISPATCH_OFFER_MS > 0): the courier dispatch chose sees the order with its room held
 * and accepts or declines it before the offer ends (mixins/dispatch.mixin.ts keeps the offers and
 * their expiry; a declined or expired offer goes to the next courier, never back to one who declined).
 */
import { Service, ServiceSchema } from "moleculer";
import type { DispatchMethods } from "../../../mixins/dispatch.mixin";
import type { LivePositionMethods } from "../../../mixins/live-positions.mixin";
import type { Ctx } from "../../../lib/contracts/common";
import { idParam } from "../../../lib/contracts/params";
import { CourierOffer, IdParams, OFFER_PARAMS, OfferParams } from "../../../lib/contracts/couriers";
import { mayChangeCourier } from "../../../lib/domain/couriers";
import { offerView } from "../../../lib/domain/dispatch";
import { conflict, forbidden } from "../../../lib/infra/errors";

type ThisOffers = Service & DispatchMethods & LivePositionMethods;

export const CourierOffersMixin: Partial<ServiceSchema> = {
	actions: {
		/** The courier's open job offers (DISPATCH_OFFER_MS > 0), each with its end time. */
		offers: {
			rest: "GET /couriers/:id/offers",
			auth: { roles: ["courier", "admin"] },
			params: { id: idParam },
			async handler(this: ThisOffers, ctx: Ctx<IdParams>): Promise<{ rows: CourierOffer[]; offerSeconds: number }> {
				if (!mayChangeCourier(ctx.meta.user!, ctx.params.id)) throw forbidden("You can only see your own offers");
				const open = await this.dispatches().find({
					query: { status: "offered", courierId: ctx.params.id },
					sort: ["createdAt"],
				});
				const at = await this.lastPosition(ctx.params.id);
				const nowMs = Date.now();
				return {
					rows: open.filter((d) => Date.parse(d.offerExpiresAt || "") > nowMs).map((d) => offerView(d, at)),
					offerSeconds: Math.round(this.dispatchSettings.offerMs / 1000),
				};
			},
		},

		acceptOffer: {
			rest: "POST /couriers/:id/offers/:orderId/accept",
			auth: { roles: ["courier"] },
			params: OFFER_PARAMS,
			async handler(this: ThisOffers, ctx: Ctx<OfferParams>): Promise<{ orderId: string; status: string }> {
				if (ctx.meta.user!.id !== ctx.params.id) throw forbidden("You can only answer your own offers");
				const assigned = await this.acceptOffer(ctx, ctx.params.id, ctx.params.orderId);
				if (!assigned) throw conflict("This offer is no longer open (it expired or the order was cancelled)");
				return { orderId: assigned.orderId, status: assigned.status };
			},
		},

		declineOffer: {
			rest: "POST /couriers/:id/offers/:orderId/decline",
			auth: { roles: ["courier"] },
			params: OFFER_PARAMS,
			async handler(this: ThisOffers, ctx: Ctx<OfferParams>): Promise<{ orderId: string; status: string }> {
				if (ctx.meta.user!.id !== ctx.params.id) throw forbidden("You can only answer your own offers");
				const dispatch = await this.dispatches().findById(ctx.params.orderId);
				if (!dispatch || dispatch.status !== "offered" || dispatch.courierId !== ctx.params.id)
					throw conflict("This offer is no longer open (it expired or the order was cancelled)");
				const back = await this.withdrawOffer(ctx, dispatch, "declined");
				if (!back) throw conflict("This offer is no longer open (it expired or the order was cancelled)");
				return { orderId: back.orderId, status: "declined" };
			},
		},
	},
};
