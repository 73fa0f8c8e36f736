/**
 * How an order's status moves (methods of the orders service): one compare-and-set on the status
 * it was read in, with the history entry and the status's event in the same write
 * (lib/domain/order-status, lib/domain/orders), then the products call the new status owes
 * (`stockAction`: release or commit, idempotent by orderId) and the mark cleared. The saga's steps
 * (payment outcomes, the repair jobs) go through moveBySaga; the payment state is recorded forward
 * only (lib/domain/payment-status); the courier assigned is recorded on the order.
 */
import { ServiceSchema } from "moleculer";
import type { Actor } from "../../../lib/domain/order-status";
import { historyEntry } from "../../../lib/domain/order-status";
import * as rules from "../../../lib/domain/orders";
import { paymentStatusesBefore } from "../../../lib/domain/payment-status";
import { nowIso } from "../../../lib/infra/ids";
import type { OwnMethods, Settings, ThisService } from "./types";

const SYSTEM: Actor = { id: "system", role: "system" };

const schema: Partial<ServiceSchema<Settings, ThisService>> = {
	methods: {
		/**
		 * Moves an order from the status it was read in to `to` (compare-and-set), appends the history
		 * entry and records the status's event in the same write, then tells products. null when the
		 * order changed meanwhile (nothing written, no event).
		 */
		async transition(this: ThisService, ctx, order, to, actor, extra = {}) {
			const now = nowIso();
			const set = rules.transitionFields(order, to, actor, now, {
				reason: extra.reason,
				promiseMinutes: this.cfg.promiseMinutes,
			});
			const event = rules.orderStatusEvent({ ...order, ...set });
			const updated = await this.compareAndSet(
				ctx,
				{ _id: order._id, status: order.status },
				{
					$set: set,
					$push: { history: historyEntry(to, actor, now, { reason: extra.reason }) },
					...(extra.inc ? { $inc: extra.inc } : {}),
				},
				[...(event ? [event] : []), ...(extra.events || [])],
			);
			return updated && this.settleStock(ctx, updated);
		},

		/** The products call a status owes (idempotent by orderId), then the mark cleared. */
		async settleStock(this: ThisService, ctx, order) {
			const action = order.stockAction;
			if (!action) return order;
			const name = action === "release" ? "products.releaseStock" : "products.commitStock";
			await (ctx ? ctx.call(name, { orderId: order._id }) : this.broker.call(name, { orderId: order._id }));
			const done = await this.compareAndSet(
				ctx,
				{ _id: order._id, stockAction: action },
				{ $unset: { stockAction: 1 } },
			);
			return done || order;
		},

		/** A saga step: move the order if it still waits for it; finish what is owed if it is already there. */
		async moveBySaga(this: ThisService, ctx, orderId, to, extra = {}) {
			const order = await this.findEntity(orderId);
			if (!order) {
				this.logger.warn({ requestId: ctx?.requestID, orderId }, `Saga step for an unknown order (${to})`);
				return null;
			}
			if (order.status === to) {
				await this.settleStock(ctx, order);
				return null;
			}
			// Payment outcomes only move orders still waiting for them; e.g. a customer already cancelled it.
			if (order.status !== "created") return null;
			const updated = await this.transition(ctx, order, to, SYSTEM, extra);
			return updated || this.moveBySaga(ctx, orderId, to, extra);
		},

		/**
		 * Records the latest payment state on the order, never going back (a late "pending" after "captured").
		 * `method`: how the order is being paid now (a PIX after a declined card), so the order, its receipt and
		 * its statement name the method that paid rather than the one first chosen.
		 */
		async recordPayment(this: ThisService, ctx, orderId, paymentId, status, method) {
			await this.compareAndSet(
				ctx,
				{ _id: orderId, paymentStatus: { $in: paymentStatusesBefore(status) } },
				{
					$set: {
						paymentStatus: status,
						...(paymentId ? { paymentId } : {}),
						...(method ? { paymentMethod: method } : {}),
						updatedAt: nowIso(),
					},
				},
			);
		},

		async assignCourier(this: ThisService, ctx, data) {
			const { orderId, courierId, etaMinutes } = data;
			const now = nowIso();
			const order = await this.findEntity(orderId);
			if (!order || order.courierId === courierId) return;
			const entry = { ...historyEntry(order.status, SYSTEM, now, { note: "courier assigned" }), courierId };
			const updated = await this.compareAndSet(
				ctx,
				{ _id: orderId, courierId: order.courierId, status: { $in: ["created", "confirmed"] } },
				{
					$set: { courierId, assignedAt: now, etaMinutes: etaMinutes ?? null, updatedAt: now },
					$push: { history: entry },
				},
			);
			if (updated) return;
			const current = await this.findEntity(orderId);
			if (current && current.courierId !== courierId)
				this.logger.warn({ requestId: ctx.requestID, orderId }, `courier.assigned ignored: order is ${current.status}`);
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const OrderSagaMixin = schema as unknown as Partial<ServiceSchema>;
