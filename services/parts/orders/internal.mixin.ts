/**
 * The orders service's internal actions, for its neighbours (visibility "public": not on the
 * gateway): couriers' tracking stream (trackingView), payments (takePaymentToken, statusesFor,
 * changedSince); and the local read model of customers (record kind `customers`).
 */
import { ServiceSchema } from "moleculer";
import type { Ctx } from "../../../lib/contracts/common";
import { idParam, isoTimeParam } from "../../../lib/contracts/params";
import * as contract from "../../../lib/contracts/orders";
import type { CustomerView } from "../../../lib/contracts/orders";
import { orderPaymentState, trackingView } from "../../../lib/domain/orders";
import { receiptOrderOf } from "../../../lib/domain/receipt";
import type { ReceiptOrder } from "../../../lib/domain/receipt";
import { nowIso } from "../../../lib/infra/ids";
import { UniqueViolationError } from "../../../lib/infra/store/types";
import type { OwnMethods, Settings, ThisService } from "./types";

const schema: Partial<ServiceSchema<Settings, ThisService>> = {
	actions: {
		/** Internal (couriers' tracking stream): may this user follow the order, and where it goes. */
		trackingView: {
			visibility: "public",
			params: contract.trackingViewParams,
			async handler(this: ThisService, ctx: Ctx<contract.TrackingViewParams>): Promise<contract.TrackingView> {
				const order = await this.findEntity(ctx.params.orderId);
				return trackingView(order, { id: ctx.params.userId, role: ctx.params.role });
			},
		},

		/**
		 * Internal (payments, when it charges an order): hands over the order's payment token once
		 * and forgets it. The token waits here, not in an event, so an order placed while payments is
		 * down is still charged when payments comes back (order.created is durable).
		 */
		takePaymentToken: {
			visibility: "public",
			params: { orderId: idParam },
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>): Promise<{ paymentToken: string | null }> {
				const order = await this.findEntity(ctx.params.orderId);
				const token = order?.stagedPaymentToken;
				if (!order || !token) return { paymentToken: null };
				const taken = await this.compareAndSet(
					ctx,
					{ _id: order._id, stagedPaymentToken: { $exists: true } },
					{ $unset: { stagedPaymentToken: 1 } },
				);
				return { paymentToken: taken ? token : null };
			},
		},

		/** Internal: the state of some orders, for payments' reconciliation and payment retries. */
		statusesFor: {
			visibility: "public",
			params: { orderIds: { type: "array", min: 1, max: 1000, items: idParam } },
			async handler(this: ThisService, ctx: Ctx<{ orderIds: string[] }>): Promise<contract.OrderPaymentState[]> {
				const orders = await this.findEntities({ query: { _id: { $in: ctx.params.orderIds } } });
				return orders.map(orderPaymentState);
			},
		},

		/** Internal (receipts): what a receipt says about an order (items, totals, payment, CPF), or null. */
		receiptFacts: {
			visibility: "public",
			params: { orderId: idParam },
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>): Promise<ReceiptOrder | null> {
				const order = await this.findEntity(ctx.params.orderId);
				return order ? receiptOrderOf(order) : null;
			},
		},

		/** Internal: ids of orders changed since a time (reconciliation looks at these). */
		changedSince: {
			visibility: "public",
			params: { since: isoTimeParam, limit: { type: "number", integer: true, min: 1, max: 5000, default: 1000 } },
			async handler(this: ThisService, ctx: Ctx<{ since: string; limit: number }>): Promise<string[]> {
				const orders = await this.findEntities({
					query: { updatedAt: { $gte: ctx.params.since } },
					sort: ["updatedAt"],
					limit: ctx.params.limit,
				});
				return orders.map((o) => o._id);
			},
		},
	},

	methods: {
		async upsertCustomer(this: ThisService, customer: CustomerView) {
			const customers = this.kind<CustomerView>("customers");
			const { _id, ...fields } = customer;
			if (await customers.updateOne({ _id }, { $set: fields })) return;
			try {
				await customers.insert(customer);
			} catch (err) {
				if (!(err instanceof UniqueViolationError)) throw err;
				await customers.updateOne({ _id }, { $set: fields });
			}
		},

		/** Earlier versions kept customers in the orders collection (`kind: "user"`): move them out once. */
		async migrateLegacyRecords(this: ThisService) {
			const legacy = await this.records.find({ query: { kind: "user" } });
			for (const doc of legacy) {
				const name = typeof doc.name === "string" ? doc.name : "";
				await this.upsertCustomer({
					_id: String(doc.userId || doc._id.replace(/^user:/, "")),
					name,
					updatedAt: nowIso(),
				});
			}
			if (legacy.length) await this.records.removeMany({ kind: "user" });
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,

	async started(this: ThisService) {
		await this.migrateLegacyRecords();
	},
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const OrderInternalMixin = schema as unknown as Partial<ServiceSchema>;
