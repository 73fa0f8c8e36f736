/**
 * The question couriers asks orders before it opens a tracking stream: may this user follow the
 * order, what is its status, who carries it and where does it go (one call, orders.trackingView).
 */
import { Context, Errors } from "moleculer";
import type { AuthUser } from "../contracts/common";
import type { TrackingView } from "../contracts/couriers";
import { forbidden, notFound } from "./errors";

type TrackingQuery = { orderId: string; userId: string; role: string };

/** The order's tracking view for `me`; 404 for an unknown order, 403 when `me` may not follow it. */
export async function trackingViewFor(ctx: Context, orderId: string, me: AuthUser): Promise<TrackingView> {
	let view: TrackingView | null;
	try {
		view = await ctx.call<TrackingView | null, TrackingQuery>("orders.trackingView", {
			orderId,
			userId: me.id,
			role: me.role,
		});
	} catch (err) {
		// Rolling upgrade: orders instances without trackingView yet answer through orders.get (which
		// refuses who may not see the order). Remove once every orders instance has trackingView.
		if (!(err instanceof Errors.ServiceNotFoundError)) throw err;
		const order = await ctx.call<Omit<TrackingView, "visible">, { id: string }>(
			"orders.get",
			{ id: orderId },
			{ meta: ctx.meta },
		);
		const { status, deliveryLocation, courierId, customerId, supplierId } = order;
		view = { visible: true, status, deliveryLocation, courierId: courierId ?? null, customerId, supplierId };
	}
	if (!view) throw notFound("order", orderId);
	if (!view.visible) throw forbidden("You may not follow this order");
	return view;
}
