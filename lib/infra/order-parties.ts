/**
 * Who an order's parties are and where it stands, for services that decide who may act on an
 * order after the fact (reviews, proofs): orders.trackingView asked as the system, which sees
 * every order. null when there is no such order.
 */
import type { Context } from "moleculer";
import type { TrackingView } from "../contracts/orders";

export interface OrderParties {
	orderId: string;
	status: string | null;
	customerId: string | null;
	supplierId: string | null;
	courierId: string | null;
}

export async function orderParties(ctx: Context, orderId: string, caller: string): Promise<OrderParties | null> {
	const view = await ctx.call<TrackingView, { orderId: string; userId: string; role: string }>("orders.trackingView", {
		orderId,
		userId: caller,
		role: "admin",
	});
	if (!view.visible) return null;
	const { status, customerId, supplierId, courierId } = view;
	return { orderId, status, customerId, supplierId, courierId };
}
