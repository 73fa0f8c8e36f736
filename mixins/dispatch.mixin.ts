/**
 * Dispatch of confirmed orders to couriers: the IO around lib/domain/dispatch.ts, composed by the
 * couriers service (which owns the courier records this writes, and consumes the order events).
 *
 * One dispatch record per order (kind `dispatches`, `_id` = the order id): waiting → assigned →
 * delivered | cancelled. Races between instances are decided in the store, never in memory:
 *  - a courier is taken by a compare-and-set that holds only while its load leaves room for the
 *    order's cylinders (so never over capacity) and it does not carry the order yet;
 *  - the order is assigned by a compare-and-set waiting → assigned, recorded with courier.assigned
 *    (one courier per order); the loser of this second step hands its courier back;
 *  - delivered / cancelled hand the order back with a compare-and-set that holds only while the
 *    courier carries it (idempotent), and make the courier available when it was its last order.
 *
 * Timers (named in their log lines, cleared when the service stops, never two runs at once):
 * "dispatch-retry" (waiting orders, the radius growing with their wait; the unassigned alert) and
 * "stale-busy-sweep" (orders a courier holds that no dispatch gives it: an instance died mid-way).
 */
import { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { DbMethods } from "./db.mixin";
import { EventsMethods } from "./events.mixin";
import type { TimerJobs } from "./timers.mixin";
import type { Courier, Dispatch, LivePosition, OrderStatusUpdate } from "../lib/contracts/couriers";
import type { OrderCancelled, OrderConfirmed, OrderDelivered, PendingEvent } from "../lib/contracts/events";
import {
	CourierCandidate,
	deliveryMinutes,
	dispatchTombstone,
	newDispatch,
	offerExpired,
	offerExpiry,
	orphanedOrders,
	radiusForWait,
	rankCouriers,
	releaseOf,
	shouldAlertUnassigned,
	waitedSeconds,
	withoutDecliners,
} from "../lib/domain/dispatch";
import { deliveryEtaMinutes } from "../lib/domain/eta";
import { config } from "../lib/infra/config";
import { releaseWrite, takeWrite } from "../lib/infra/courier-loads";
import { nowIso } from "../lib/infra/ids";
import { Collection, Filter, UniqueViolationError, UpdateSpec } from "../lib/infra/store/types";

type DispatchSettings = ReturnType<typeof config>["dispatch"];

/** What the composing service provides: live positions and the broadcasts between instances. */
export interface DispatchHost {
	live: Map<string, LivePosition>;
	announceCourierState(ctx: Context | null, courier: Courier): void;
	announceOrderStatus(ctx: Context | null, update: Omit<OrderStatusUpdate, "at">): void;
}

/** What this mixin gives the service. */
export interface DispatchMethods {
	dispatches(): Collection<Dispatch>;
	openDispatch(ctx: Context, data: OrderConfirmed): Promise<Dispatch>;
	tryAssign(ctx: Context | null, dispatch: Dispatch, candidates?: CourierCandidate[]): Promise<Dispatch | null>;
	releaseCourier(ctx: Context | null, courierId: string, orderId: string): Promise<Courier | null>;
	dispatchWaiting(): Promise<void>;
	dispatchWaitingSoon(): void;
	releaseOrphanedCouriers(): Promise<number>;
	completeDelivery(ctx: Context, data: OrderDelivered): Promise<void>;
	acceptOffer(ctx: Context, courierId: string, orderId: string): Promise<Dispatch | null>;
	withdrawOffer(ctx: Context | null, dispatch: Dispatch, why: "declined" | "expired"): Promise<Dispatch | null>;
	cancelDispatch(ctx: Context, data: OrderCancelled): Promise<void>;
}

/** The mixin's own steps (methods of the service too, but not meant for the service's code). */
interface DispatchSteps {
	writeDispatch(
		ctx: Context | null,
		query: Filter,
		update: UpdateSpec,
		events?: PendingEvent[],
	): Promise<Dispatch | null>;
	availableCandidates(): Promise<CourierCandidate[]>;
	assignCourier(
		ctx: Context | null,
		dispatch: Dispatch,
		courier: CourierCandidate,
		radiusKm: number,
	): Promise<Dispatch | null | undefined>;
	takeCourier(ctx: Context | null, courier: CourierCandidate, dispatch: Dispatch): Promise<Courier | null>;
	dispatchRoundOnce(): Promise<void>;
	alertIfWaitedTooLong(dispatch: Dispatch): Promise<void>;
	markDispatchCancelled(ctx: Context, data: OrderCancelled): Promise<Dispatch | null>;
}

interface DispatchState {
	dispatchSettings: DispatchSettings;
	dispatchRound: Promise<void> | null;
	dispatchAgain: boolean;
}

type ThisDispatcher = Service &
	DbMethods<Courier> &
	EventsMethods &
	DispatchHost &
	DispatchMethods &
	DispatchSteps &
	DispatchState;

const RELEASE_ATTEMPTS = 20;
const DISPATCH_LIVE = ["waiting", "offered", "assigned"];

const methods: DispatchMethods & DispatchSteps & ThisType<ThisDispatcher> = {
	dispatches(this: ThisDispatcher) {
		return this.kind<Dispatch>("dispatches");
	},

	/** A compare-and-set on a dispatch record, with the events it causes (outbox). */
	async writeDispatch(this: ThisDispatcher, ctx, query, update, events) {
		const doc = await this.dispatches().updateOne(query, update, this.envelopes(ctx, events));
		if (doc && events?.length) await this.flushOutbox();
		return doc;
	},

	/** The dispatch record of a confirmed order (created once; a redelivered event finds it). */
	async openDispatch(this: ThisDispatcher, _ctx, data) {
		const existing = await this.dispatches().findById(data.orderId);
		if (existing) return existing;
		try {
			return await this.dispatches().insert(newDispatch(data, nowIso()));
		} catch (err) {
			if (!(err instanceof UniqueViolationError)) throw err;
			return (await this.dispatches().findById(data.orderId))!;
		}
	},

	/** Couriers on duty (available, or busy with room left may be): the ranking checks the room. */
	async availableCandidates(this: ThisDispatcher) {
		const couriers = await this.findEntities({ query: { status: { $in: ["available", "busy"] } } });
		return couriers.map((c) => ({
			id: c._id,
			status: c.status,
			capacity: c.capacity,
			load: c.load ?? 0,
			supplierId: c.supplierId || null,
			position: this.live.get(c._id) || c.position || null,
		}));
	},

	/** Tries the ranked couriers in turn; returns the assigned dispatch record or null. */
	async tryAssign(this: ThisDispatcher, ctx, dispatch, candidates) {
		const s = this.dispatchSettings;
		const nowMs = Date.now();
		const radiusKm = radiusForWait(nowMs - Date.parse(dispatch.createdAt), {
			initialKm: s.initialRadiusKm,
			growth: s.radiusGrowth,
			maxKm: s.maxRadiusKm,
			stepMs: s.retryMs,
		});
		const pool = candidates || (await this.availableCandidates());
		const ranked = rankCouriers(withoutDecliners(pool, dispatch), dispatch, {
			radiusKm,
			maxPositionAgeMs: s.positionMaxAgeMs,
			nowMs,
		});
		for (const choice of ranked) {
			const assigned = await this.assignCourier(
				ctx,
				dispatch,
				pool.find((c) => c.id === choice.id)!,
				radiusKm,
			);
			if (assigned !== undefined) return assigned;
		}
		return null;
	},

	/**
	 * Takes the courier, then the order. Returns the assigned dispatch, null when the order was
	 * assigned or cancelled elsewhere meanwhile, undefined when this courier had no room left (try the next).
	 */
	async assignCourier(this: ThisDispatcher, ctx, dispatch, candidate, radiusKm) {
		const courier = await this.takeCourier(ctx, candidate, dispatch);
		if (!courier) return undefined;
		candidate.load = courier.load;
		candidate.status = courier.status;
		const position = this.live.get(courier._id);
		const pickup = dispatch.supplierLocation || dispatch.deliveryLocation;
		const etaMinutes =
			position && dispatch.deliveryLocation
				? deliveryEtaMinutes(position, { to: dispatch.deliveryLocation, pickup, pickedUp: false })
				: null;
		const waited = waitedSeconds(dispatch.createdAt);
		const { orderId, supplierId, customerId } = dispatch;
		const expiresAt = offerExpiry(this.dispatchSettings.offerMs, Date.now());
		if (expiresAt) {
			// Offers on: the courier's room is held while it decides; courier.assigned waits for its yes.
			const offered = await this.writeDispatch(
				ctx,
				{ _id: dispatch._id, status: "waiting" },
				{ $set: { status: "offered", courierId: courier._id, offerExpiresAt: expiresAt, radiusKm } },
			);
			if (!offered && (await this.releaseCourier(ctx, courier._id, orderId))) this.dispatchWaitingSoon();
			if (offered) this.announceCourierState(ctx, courier);
			return offered;
		}
		const assigned = await this.writeDispatch(
			ctx,
			{ _id: dispatch._id, status: "waiting" },
			{ $set: { status: "assigned", courierId: courier._id, assignedAt: nowIso(), radiusKm } },
			[
				{
					type: "courier.assigned",
					data: { orderId, courierId: courier._id, supplierId, customerId, etaMinutes, waitedSeconds: waited },
				},
			],
		);
		if (!assigned) {
			// Lost the order to a concurrent dispatch: the courier hands it back, and may suit another waiting order.
			if (await this.releaseCourier(ctx, courier._id, orderId)) this.dispatchWaitingSoon();
			return null;
		}
		this.logger.info({ requestId: ctx?.requestID, orderId, courierId: courier._id, waited }, "courier assigned");
		this.announceCourierState(ctx, courier);
		this.announceOrderStatus(ctx, { orderId, status: "assigned", courierId: courier._id });
		return assigned;
	},

	/** The courier takes the order if its load (as stored now) leaves room for it: never over capacity. */
	async takeCourier(this: ThisDispatcher, ctx, c, dispatch) {
		const { query, update } = takeWrite(c, dispatch, nowIso());
		return this.compareAndSet(ctx, query, update);
	},

	/**
	 * The courier hands the order back (idempotent: only while it carries it); available again when it
	 * was its last order. One write, repeated when the load moved meanwhile (another order taken).
	 */
	async releaseCourier(this: ThisDispatcher, ctx, courierId, orderId) {
		for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt++) {
			const courier = await this.findEntity(courierId);
			const release =
				courier && releaseOf({ load: courier.load ?? 0, assignments: courier.assignments || {} }, orderId);
			if (!courier || !release) return null;
			const { query, update } = releaseWrite(courier, orderId, release, nowIso());
			const freed = await this.compareAndSet(ctx, query, update);
			if (freed) {
				this.announceCourierState(ctx, freed);
				return freed;
			}
		}
		throw new Error(`Courier ${courierId} kept changing; order ${orderId} not handed back (retried later)`);
	},

	/**
	 * Waiting orders, oldest first, each at the radius its wait has grown to; raises the alert for
	 * orders that waited too long. Calls that arrive while a round runs make one more round.
	 */
	dispatchWaiting(this: ThisDispatcher) {
		if (this.dispatchRound) {
			this.dispatchAgain = true;
			return this.dispatchRound;
		}
		this.dispatchRound = (async () => {
			do {
				this.dispatchAgain = false;
				await this.dispatchRoundOnce();
			} while (this.dispatchAgain);
		})().finally(() => (this.dispatchRound = null));
		return this.dispatchRound;
	},

	async dispatchRoundOnce(this: ThisDispatcher) {
		const nowMs = Date.now();
		const offered = await this.dispatches().find({ query: { status: "offered" } });
		for (const dispatch of offered)
			if (offerExpired(dispatch, nowMs)) await this.withdrawOffer(null, dispatch, "expired");
		const waiting = await this.dispatches().find({ query: { status: "waiting" }, sort: ["createdAt"] });
		if (waiting.length === 0) return;
		const candidates = await this.availableCandidates();
		for (const dispatch of waiting) {
			if (!(await this.tryAssign(null, dispatch, candidates))) await this.alertIfWaitedTooLong(dispatch);
		}
	},

	dispatchWaitingSoon(this: ThisDispatcher) {
		this.dispatchWaiting().catch((err: Error) => this.logger.warn(`dispatch-retry: round failed: ${err.message}`));
	},

	/** delivery.unassigned, once per order: recorded with the write that marks the order alerted. */
	async alertIfWaitedTooLong(this: ThisDispatcher, dispatch) {
		const waitedMs = Date.now() - Date.parse(dispatch.createdAt);
		if (!shouldAlertUnassigned(waitedMs, this.dispatchSettings.alertAfterMs, dispatch.alerted)) return;
		const { orderId, supplierId } = dispatch;
		const marked = await this.writeDispatch(
			null,
			{ _id: dispatch._id, status: "waiting", alerted: false },
			{ $set: { alerted: true, alertedAt: nowIso() } },
			[
				{
					type: "delivery.unassigned",
					data: { orderId, supplierId, waitedSeconds: waitedSeconds(dispatch.createdAt) },
				},
			],
		);
		if (marked) this.logger.warn({ orderId }, "dispatch-retry: no courier for an order");
	},

	/** Orders couriers hold that no dispatch gives them (an instance died between the two steps). */
	async releaseOrphanedCouriers(this: ThisDispatcher) {
		let released = 0;
		const busy = await this.findEntities({ query: { status: "busy" } });
		for (const courier of busy) {
			const orderIds = Object.keys(courier.assignments || {});
			const records = orderIds.length ? await this.dispatches().find({ query: { _id: { $in: orderIds } } }) : [];
			const holds = new Set(
				records
					.filter((d) => ["assigned", "offered"].includes(d.status) && d.courierId === courier._id)
					.map((d) => d.orderId),
			);
			const orphans = orphanedOrders(
				courier.assignments || {},
				(id) => holds.has(id),
				this.dispatchSettings.orphanAfterMs,
			);
			for (const orderId of orphans) {
				if (!(await this.releaseCourier(null, courier._id, orderId))) continue;
				released++;
				this.logger.warn({ courierId: courier._id, orderId }, "stale-busy-sweep: released an orphaned order");
			}
		}
		if (released > 0) this.dispatchWaitingSoon();
		return released;
	},

	/** delivery.completed, once: recorded with the write that moves the dispatch to delivered. */
	async completeDelivery(this: ThisDispatcher, ctx, data) {
		const { orderId } = data;
		const dispatch = await this.dispatches().findById(orderId);
		const courierId = data.courierId || dispatch?.courierId || null;
		const deliveredAt = data.deliveredAt || nowIso();
		if (dispatch && courierId) {
			const confirmedAt = data.confirmedAt || dispatch.confirmedAt || deliveredAt;
			await this.writeDispatch(
				ctx,
				{ _id: orderId, status: { $in: ["assigned", "offered"] } },
				{ $set: { status: "delivered", deliveredAt } },
				[
					{
						type: "delivery.completed",
						data: {
							orderId,
							courierId,
							supplierId: data.supplierId || dispatch.supplierId,
							minutes: deliveryMinutes(confirmedAt, deliveredAt),
						},
					},
				],
			);
		}
		// Delivered with no courier assigned (an admin or the supplier carried it): the order stops
		// waiting, or every dispatch round would keep offering it, and raising its wait alert, forever.
		if (dispatch && !courierId)
			await this.writeDispatch(
				ctx,
				{ _id: orderId, status: "waiting" },
				{ $set: { status: "delivered", deliveredAt } },
				[],
			);
		const freed = courierId ? await this.releaseCourier(ctx, courierId, orderId) : null;
		this.announceOrderStatus(ctx, { orderId, status: "delivered", courierId });
		if (freed) this.dispatchWaitingSoon();
	},

	/**
	 * The courier says yes to its open offer: the order is assigned to it, recorded with
	 * courier.assigned. null when the offer is not its own and open any more (expired, cancelled).
	 */
	async acceptOffer(this: ThisDispatcher, ctx, courierId, orderId) {
		const dispatch = await this.dispatches().findById(orderId);
		if (!dispatch || dispatch.status !== "offered" || dispatch.courierId !== courierId) return null;
		if (offerExpired(dispatch, Date.now())) {
			await this.withdrawOffer(ctx, dispatch, "expired");
			return null;
		}
		const position = this.live.get(courierId);
		const pickup = dispatch.supplierLocation || dispatch.deliveryLocation;
		const etaMinutes =
			position && pickup && dispatch.deliveryLocation
				? deliveryEtaMinutes(position, { to: dispatch.deliveryLocation, pickup, pickedUp: false })
				: null;
		const { supplierId, customerId } = dispatch;
		const assigned = await this.writeDispatch(
			ctx,
			{ _id: orderId, status: "offered", courierId, offerExpiresAt: dispatch.offerExpiresAt },
			{ $set: { status: "assigned", assignedAt: nowIso() }, $unset: { offerExpiresAt: true } },
			[
				{
					type: "courier.assigned",
					data: {
						orderId,
						courierId,
						supplierId,
						customerId,
						etaMinutes,
						waitedSeconds: waitedSeconds(dispatch.createdAt),
					},
				},
			],
		);
		if (!assigned) return null;
		this.logger.info({ requestId: ctx.requestID, orderId, courierId }, "courier accepted the offer");
		this.announceOrderStatus(ctx, { orderId, status: "assigned", courierId });
		return assigned;
	},

	/**
	 * The offer ends without a yes (declined, or its time ran out): the order waits again, never
	 * offered to this courier again, and the courier's room is handed back.
	 */
	async withdrawOffer(this: ThisDispatcher, ctx, dispatch, why) {
		const courierId = dispatch.courierId;
		if (dispatch.status !== "offered" || !courierId) return null;
		const back = await this.writeDispatch(
			ctx,
			{ _id: dispatch._id, status: "offered", courierId, offerExpiresAt: dispatch.offerExpiresAt },
			{
				$set: { status: "waiting" },
				$unset: { courierId: true, offerExpiresAt: true },
				$push: { declinedBy: courierId },
			},
		);
		if (!back) return null;
		this.logger.info({ orderId: dispatch.orderId, courierId, why }, "offer withdrawn");
		await this.releaseCourier(ctx, courierId, dispatch.orderId);
		this.dispatchWaitingSoon();
		return back;
	},

	async cancelDispatch(this: ThisDispatcher, ctx, data) {
		const { orderId } = data;
		const dispatch = await this.markDispatchCancelled(ctx, data);
		const courierId = data.courierId || dispatch?.courierId || null;
		const freed = courierId ? await this.releaseCourier(ctx, courierId, orderId) : null;
		this.announceOrderStatus(ctx, { orderId, status: "cancelled", courierId });
		if (freed) this.dispatchWaitingSoon();
	},

	/**
	 * Cancels the order's dispatch. Events on a topic are handled concurrently, so the cancellation
	 * may come before the confirmation: then a "cancelled" record is left as a tombstone, and the
	 * late order.confirmed finds it and assigns nobody.
	 */
	async markDispatchCancelled(this: ThisDispatcher, ctx, data) {
		const { orderId } = data;
		const now = nowIso();
		const cancel = { $set: { status: "cancelled", cancelledAt: now } };
		const live = { _id: orderId, status: { $in: DISPATCH_LIVE } };
		const dispatch = await this.writeDispatch(ctx, live, cancel);
		if (dispatch || (await this.dispatches().findById(orderId))) return dispatch;
		try {
			await this.dispatches().insert(dispatchTombstone(data, now));
			return null;
		} catch (err) {
			if (!(err instanceof UniqueViolationError)) throw err;
			return this.writeDispatch(ctx, live, cancel); // the confirmation won the insert
		}
	},
};

const schema: Partial<ServiceSchema<ServiceSettingSchema, ThisDispatcher>> = {
	methods: methods as unknown as ServiceSchema["methods"],

	created(this: ThisDispatcher) {
		this.dispatchSettings = config().dispatch;
		this.dispatchRound = null;
		this.dispatchAgain = false;
	},

	// Run by TimersMixin (the service lists it among its mixins), every DISPATCH_RETRY_MS.
	timers: {
		// The dispatch round coalesces overlapping calls itself (dispatchWaiting).
		"dispatch-retry": {
			everyMs(this: ThisDispatcher) {
				return this.dispatchSettings.retryMs;
			},
			run(this: ThisDispatcher) {
				this.dispatchWaitingSoon();
			},
		},
		"stale-busy-sweep": {
			everyMs(this: ThisDispatcher) {
				return this.dispatchSettings.retryMs;
			},
			run(this: ThisDispatcher) {
				return this.releaseOrphanedCouriers();
			},
		},
	} satisfies TimerJobs<ThisDispatcher>,

	async stopped(this: ThisDispatcher) {
		await this.dispatchRound?.catch(() => undefined);
	},
};

// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
export const DispatchMixin = schema as unknown as Partial<ServiceSchema>;
