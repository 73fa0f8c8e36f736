/**
 * Analytics' reorder reminders. Each delivered order (order.delivered, which analytics already
 * consumes) updates the customer's history per cylinder type (record kind `consumption`,
 * `_id` = customerId:type) and the estimate of when it runs out (lib/domain/reminders.ts). A
 * periodic job (TimersMixin, REMINDER_CHECK_MS) publishes reminder.due for each estimate whose
 * reminder time has come, once per last order; notifications tells the customer in their language
 * with a one-tap reorder link (unless they turned reorder_reminder off). POST /api/reorders places
 * the reorder: the last order again at the same supplier if it is open and has stock, else at the
 * best alternative; GET /api/reorders/preview says what that would order now, without placing it
 * (the web app's #/reorder/<orderId> screen shows it before the one tap).
 */
import { Context, Service, ServiceSchema } from "moleculer";
import type { Ctx } from "../../../lib/contracts/common";
import type { OrderDelivered, PendingEvent } from "../../../lib/contracts/events";
import { idParam } from "../../../lib/contracts/params";
import type { EventEnvelope } from "../../../lib/domain/events";
import {
	cylindersByType,
	Delivery,
	estimateRunOut,
	OfferLike,
	reorderChoice,
	ReorderChoice,
	ReorderLine,
	RunOutEstimate,
	withDelivery,
} from "../../../lib/domain/reminders";
import { AppConfig, config } from "../../../lib/infra/config";
import { forbidden, notFound, unprocessable } from "../../../lib/infra/errors";
import { nowIso } from "../../../lib/infra/ids";
import type { Collection, IndexSpec, StoredDoc } from "../../../lib/infra/store/types";
import type { EventsMethods } from "../../../mixins/events.mixin";

export interface Consumption extends StoredDoc, Partial<RunOutEstimate> {
	customerId: string;
	cylinderType: string;
	deliveries: Delivery[];
	lastOrderId: string;
	lastSupplierId: string;
	/** Set while a reminder is due for the last order; unset once it went out. */
	pendingRemindAt?: string;
	remindedFor?: string;
	updatedAt: string;
}

export const REMINDER_KINDS: Record<string, { indexes?: IndexSpec[] }> = {
	consumption: { indexes: [{ fields: { customerId: 1 } }, { fields: { pendingRemindAt: 1 } }] },
};

/** A catalog row as products.list answers it (the part a reorder reads). */
type CatalogOffer = OfferLike & {
	brand?: string;
	priceWithoutExchangeCents?: number;
	deliveryFeeCents?: number | null;
	supplier: { id: string; name?: string };
};

interface ReorderPlan {
	orderId: string;
	last: OrderForReorder;
	choice: ReorderChoice;
	offers: CatalogOffer[];
	/** What the reorder pays with unless told: PIX if the last order was paid by PIX, else cash. */
	paymentMethod: "pix" | "cash";
}

export interface ReminderMethods {
	reminderCfg: AppConfig["reminders"];
	planReorder(ctx: Context, orderId?: string): Promise<ReorderPlan>;
	recordConsumption(envelope: EventEnvelope<OrderDelivered>): Promise<void>;
	sendDueReminders(now?: Date): Promise<number>;
}

type RemindersService = Service &
	EventsMethods &
	ReminderMethods & {
		kind<K extends StoredDoc>(name: string): Collection<K>;
		envelopes(ctx: Context | null, events: PendingEvent[] | undefined): EventEnvelope[];
	};

const consumption = (s: RemindersService) => s.kind<Consumption>("consumption");

interface OrderForReorder {
	id: string;
	customerId: string;
	supplierId: string;
	items: ReorderLine[];
	deliveryAddress: Record<string, unknown>;
	deliveryLocation: { lat: number; lng: number };
	paymentMethod: string;
}

export const remindersSchema: Partial<ServiceSchema> = {
	actions: {
		/** The caller's run-out estimates, per cylinder type. */
		reorderEstimates: {
			rest: "GET /reorders/estimates",
			auth: { roles: ["customer"] },
			params: {},
			async handler(this: RemindersService, ctx: Ctx<Record<string, never>>) {
				const rows = await consumption(this).find({ query: { customerId: ctx.meta.user!.id } });
				return rows.map((c) => ({
					cylinderType: c.cylinderType,
					runOutAt: c.runOutAt,
					remindAt: c.remindAt,
					basis: c.basis,
					daysPerCylinder: c.daysPerCylinder,
					lastOrderId: c.lastOrderId,
					lastDeliveredAt: c.deliveries[c.deliveries.length - 1]?.at ?? null,
				}));
			},
		},

		/** What a one-tap reorder of the last order (or `orderId`) would order now, without placing it. */
		reorderPreview: {
			rest: "GET /reorders/preview",
			auth: { roles: ["customer"] },
			params: { orderId: { ...idParam, optional: true } },
			async handler(this: RemindersService, ctx: Ctx<{ orderId?: string }>) {
				const { orderId, last, choice, offers, paymentMethod } = await this.planReorder(ctx, ctx.params.orderId);
				const byId = new Map(offers.map((o) => [o.id, o]));
				const first = byId.get(choice.items[0].productId);
				return {
					reorderOf: orderId,
					sameSupplier: choice.sameSupplier,
					supplier: { id: choice.supplierId, name: first?.supplier.name ?? null },
					items: choice.items.map((i) => {
						const o = byId.get(i.productId);
						return {
							...i,
							type: o?.type,
							brand: o?.brand,
							priceCents: o?.priceCents,
							priceWithoutExchangeCents: o?.priceWithoutExchangeCents,
						};
					}),
					deliveryFeeCents: first?.deliveryFeeCents ?? null,
					deliveryAddress: last.deliveryAddress,
					paymentMethod,
				};
			},
		},

		/** One tap: the last order (or `orderId`) again, same supplier if it can, else the best alternative. */
		reorder: {
			rest: "POST /reorders",
			auth: { roles: ["customer"] },
			params: {
				orderId: { ...idParam, optional: true },
				paymentMethod: { type: "enum", values: ["card", "pix", "cash"], optional: true },
				paymentToken: { type: "string", min: 1, max: 200, optional: true },
			},
			async handler(
				this: RemindersService,
				ctx: Ctx<{ orderId?: string; paymentMethod?: string; paymentToken?: string }>,
			) {
				const { orderId, last, choice, paymentMethod: usual } = await this.planReorder(ctx, ctx.params.orderId);
				const paymentMethod = ctx.params.paymentMethod ?? usual;
				if (paymentMethod === "card" && !ctx.params.paymentToken)
					throw unprocessable("A card payment needs a paymentToken", { fields: ["paymentToken"] });
				const { lat, lng } = last.deliveryLocation;
				const order = await ctx.call<Record<string, unknown>, object>("orders.create", {
					supplierId: choice.supplierId,
					items: choice.items,
					deliveryAddress: { ...last.deliveryAddress, lat, lng },
					paymentMethod,
					...(ctx.params.paymentToken ? { paymentToken: ctx.params.paymentToken } : {}),
				});
				ctx.meta.$statusCode = 201;
				return { sameSupplier: choice.sameSupplier, reorderOf: orderId, order };
			},
		},
	},

	methods: {
		/** The order to repeat (the caller's latest delivered one unless `orderId`), and what repeating it orders now. */
		async planReorder(this: RemindersService, ctx: Context, requested?: string): Promise<ReorderPlan> {
			const me = (ctx.meta as { user: { id: string } }).user;
			let orderId = requested;
			if (!orderId) {
				const mine = await consumption(this).find({ query: { customerId: me.id } });
				const latest = mine
					.map((c) => c.deliveries[c.deliveries.length - 1])
					.filter(Boolean)
					.sort((a, b) => (a.at < b.at ? 1 : -1))[0];
				if (!latest) throw notFound("delivered order to reorder");
				orderId = latest.orderId;
			}
			// orders checks that the order is the caller's (the call carries the caller's meta).
			const last = await ctx.call<OrderForReorder, { id: string }>("orders.get", { id: orderId });
			if (last.customerId !== me.id) throw forbidden("This is not your order");
			const types = [...cylindersByType(last.items)].map(([type]) => type);
			const offers: CatalogOffer[] = [];
			for (const type of types) {
				const page = await ctx.call<{ rows: CatalogOffer[] }, object>("products.list", {
					type,
					...last.deliveryLocation,
					pageSize: 100,
					page: 1,
				});
				offers.push(...page.rows);
			}
			const choice = reorderChoice(last, offers);
			if (!choice) throw unprocessable("No supplier open near you has these cylinders now", { reason: "no_supplier" });
			return { orderId, last, choice, offers, paymentMethod: last.paymentMethod === "pix" ? "pix" : "cash" };
		},

		async recordConsumption(this: RemindersService, envelope: EventEnvelope<OrderDelivered>) {
			const d = envelope.data;
			const at = d.deliveredAt || envelope.time;
			for (const [cylinderType, quantity] of cylindersByType(d.items)) {
				const _id = `${d.customerId}:${cylinderType}`;
				for (let attempt = 0; attempt < 5; attempt++) {
					const current = await consumption(this).findById(_id);
					const history = current?.deliveries ?? [];
					const deliveries = withDelivery(history, { orderId: d.orderId, at, quantity });
					if (deliveries === history) break; // this order was counted already
					const estimate = estimateRunOut(cylinderType, deliveries)!;
					const latest = deliveries[deliveries.length - 1];
					const isLatest = latest.orderId === d.orderId;
					const doc = {
						customerId: d.customerId,
						cylinderType,
						deliveries,
						...estimate,
						lastOrderId: isLatest ? d.orderId : current!.lastOrderId,
						lastSupplierId: isLatest ? d.supplierId : current!.lastSupplierId,
						updatedAt: nowIso(),
					};
					const pending = doc.lastOrderId !== current?.remindedFor ? { pendingRemindAt: estimate.remindAt } : {};
					if (!current) {
						const inserted = await consumption(this)
							.insert({ _id, ...doc, ...pending })
							.catch(() => null);
						if (inserted) break;
						continue;
					}
					const saved = await consumption(this).updateOne(
						{ _id, updatedAt: current.updatedAt },
						{ $set: { ...doc, ...pending } },
					);
					if (saved) break;
				}
			}
		},

		/** reminder.due for every estimate whose time has come, once per last order. */
		async sendDueReminders(this: RemindersService, now = new Date()) {
			const due = await consumption(this).find({
				query: { pendingRemindAt: { $lte: now.toISOString() } },
				limit: 500,
			});
			let sent = 0;
			for (const c of due) {
				const events = this.envelopes(null, [
					{
						type: "reminder.due",
						data: {
							customerId: c.customerId,
							cylinderType: c.cylinderType,
							lastOrderId: c.lastOrderId,
							supplierId: c.lastSupplierId,
							runOutAt: c.runOutAt!,
							basis: c.basis ?? "default",
						},
					},
				]);
				const done = await consumption(this).updateOne(
					{ _id: c._id, updatedAt: c.updatedAt, lastOrderId: c.lastOrderId },
					{ $set: { remindedFor: c.lastOrderId, updatedAt: nowIso() }, $unset: { pendingRemindAt: 1 } },
					events,
				);
				if (done) sent++;
			}
			if (sent) void this.flushOutbox();
			return sent;
		},
	},

	created(this: Service) {
		(this as RemindersService).reminderCfg = config().reminders;
	},
};
