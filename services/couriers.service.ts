/**
 * Couriers: profiles, availability, live locations, dispatch of confirmed orders to the nearest
 * available courier, and tracking of an order's delivery (position + ETA, Server-Sent Events).
 *
 * One collection holds two kinds of records: courier profiles (`_id` = the courier's user id) and
 * dispatch records (`_id` = "dispatch:<orderId>", one per order, status waiting → assigned →
 * delivered | cancelled). Races between instances are decided in the store: a courier is taken by
 * compareAndSet available → busy, an order is assigned by compareAndSet waiting → assigned; the
 * loser of the second step gives its courier back.
 *
 * Live positions are kept in memory on every instance (fed by the plain, broadcast
 * courier.location.updated event) and persisted on a timer, latest only.
 */
import { Context, ServiceSchema } from "moleculer";
import { EventEmitter } from "events";
import { PassThrough } from "stream";
import { DbMixin } from "../mixins/db.mixin";
import { openTrackingStream } from "../lib/infra/tracking-stream";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import {
	COURIER_STATUSES,
	CourierCandidate,
	deliveryMinutes,
	isIsoTimestamp,
	judgeLocationReport,
	radiusForWait,
	rankCouriers,
	shouldAlertUnassigned,
	waitedSeconds,
} from "../lib/domain/dispatch";
import { courierEtaMinutes, etaViaPickupMinutes } from "../lib/domain/eta";
import { haversineKm, LatLng } from "../lib/domain/geo";
import { EventEnvelope } from "../lib/domain/events";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { nowIso } from "../lib/infra/ids";
import { config } from "../lib/infra/config";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

interface LivePosition extends LatLng {
	accuracy: number | null;
	speed: number | null;
	heading: number | null;
	at: string;
}

const VEHICLE_TYPES = ["motorcycle", "car", "van", "truck", "bicycle"];
const dispatchId = (orderId: string) => `dispatch:${orderId}`;

const lat = { type: "number", min: -90, max: 90 };
const lng = { type: "number", min: -180, max: 180 };
const point = { type: "object", strict: true, props: { lat, lng } };
const vehicle = {
	type: "object",
	strict: true,
	props: {
		type: { type: "enum", values: VEHICLE_TYPES },
		plate: { type: "string", trim: true, uppercase: true, pattern: /^[A-Z0-9-]{5,10}$/ },
	},
};
const capacity = { type: "number", integer: true, min: 1, max: 200 };
const id = { type: "string", min: 1, max: 64 };

/** Dispatch and location settings (lib/config.ts), read when the service is created. */
function dispatchSettings() {
	return config().dispatch;
}

const CouriersService: ServiceSchema = {
	name: "couriers",
	mixins: [
		DbMixin({
			collection: "couriers",
			indexes: [{ fields: { kind: 1 } }, { fields: { status: 1 } }, { fields: { supplierId: 1 } }],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /couriers",
			auth: { roles: ["courier", "admin"] },
			params: {
				userId: { ...id, optional: true },
				supplierId: { ...id, optional: true },
				vehicle,
				capacity,
			},
			async handler(this: any, ctx: Ctx) {
				const owner = await this.profileOwner(ctx);
				const now = nowIso();
				const courier = await this.insertEntity(ctx, {
					_id: owner.id,
					kind: "courier",
					supplierId: owner.supplierId,
					vehicle: ctx.params.vehicle,
					capacity: ctx.params.capacity,
					status: "offline",
					currentOrderId: null,
					position: null,
					createdAt: now,
					updatedAt: now,
				});
				this.rememberCourierState(courier);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/couriers/${courier._id}`;
				return this.publicCourier(courier);
			},
		},

		list: {
			rest: "GET /couriers",
			auth: { roles: ["admin", "supplier"] },
			params: {
				status: { type: "enum", values: COURIER_STATUSES, optional: true },
				supplierId: { ...id, optional: true },
				lat: { ...lat, optional: true, convert: true },
				lng: { ...lng, optional: true, convert: true },
				radiusKm: { type: "number", positive: true, max: 500, optional: true, convert: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, status, lat: atLat, lng: atLng, radiusKm } = ctx.params;
				if ((atLat === undefined) !== (atLng === undefined))
					throw unprocessable("Give both lat and lng to filter by distance", { fields: ["lat", "lng"] });
				const query: Doc = { kind: "courier" };
				if (status) query.status = status;
				const me = ctx.meta.user!;
				if (me.role === "supplier") query.supplierId = me.id;
				else if (ctx.params.supplierId) query.supplierId = ctx.params.supplierId;
				let rows: Doc[] = (await this.findEntities({ query, sort: ["createdAt"] })).map((c: Doc) =>
					this.publicCourier(c),
				);
				if (atLat !== undefined) rows = this.nearPoint(rows, { lat: atLat, lng: atLng }, radiusKm ?? 10);
				const offset = (page - 1) * pageSize;
				return { rows: rows.slice(offset, offset + pageSize), total: rows.length, page, pageSize };
			},
		},

		get: {
			rest: "GET /couriers/:id",
			params: { id },
			async handler(this: any, ctx: Ctx) {
				const courier = await this.getCourierOr404(ctx.params.id);
				this.assertMaySee(ctx.meta.user!, courier);
				return this.publicCourier(courier);
			},
		},

		update: {
			rest: "PUT /couriers/:id",
			auth: { roles: ["courier", "admin"] },
			params: { id, vehicle: { ...vehicle, optional: true }, capacity: { ...capacity, optional: true } },
			async handler(this: any, ctx: Ctx) {
				const { id: courierId, ...changes } = ctx.params;
				this.assertSelfOrAdmin(ctx.meta.user!, courierId);
				await this.getCourierOr404(courierId);
				const updated = await this.updateEntity(ctx, courierId, { $set: { ...changes, updatedAt: nowIso() } });
				return this.publicCourier(updated);
			},
		},

		setStatus: {
			rest: "PUT /couriers/:id/status",
			auth: { roles: ["courier", "admin"] },
			params: { id, status: { type: "enum", values: ["available", "offline"] } },
			async handler(this: any, ctx: Ctx) {
				const me = ctx.meta.user!;
				this.assertSelfOrAdmin(me, ctx.params.id);
				if (me.role === "courier" && me.status !== "active")
					throw forbidden("Your account must be verified before you take deliveries");
				const courier = await this.getCourierOr404(ctx.params.id);
				if (courier.status === "busy")
					throw conflict("You are on a delivery; finish it first", { orderId: courier.currentOrderId });
				const updated = await this.compareAndSet(
					ctx,
					{ _id: courier._id, status: courier.status },
					{ $set: { status: ctx.params.status, updatedAt: nowIso() } },
				);
				if (!updated) throw conflict("The courier's status changed meanwhile; try again");
				this.announceCourierState(ctx, updated);
				if (updated.status === "available") this.dispatchWaitingSoon();
				return this.publicCourier(updated);
			},
		},

		/** The hot path: validate, keep the newest report, broadcast; persisted later on a timer. */
		updateLocation: {
			rest: "PUT /couriers/:id/location",
			// The highest-rate write: its per-call access log line goes at debug level.
			logLevel: "debug",
			auth: { roles: ["courier"] },
			params: {
				id,
				lat,
				lng,
				accuracy: { type: "number", min: 0, max: 100_000, optional: true },
				speed: { type: "number", min: 0, max: 150, optional: true },
				heading: { type: "number", min: 0, max: 360, optional: true },
				at: { type: "string", max: 40 },
			},
			async handler(this: any, ctx: Ctx) {
				const { id: courierId, at } = ctx.params;
				if (ctx.meta.user!.id !== courierId) throw forbidden("You can only report your own location");
				if (!isIsoTimestamp(at)) throw unprocessable("at must be an ISO 8601 time with a zone", { field: "at" });
				const state = await this.courierStateOr404(courierId);
				const last: LivePosition | undefined = this.live.get(courierId);
				const verdict = judgeLocationReport(at, last && last.at, this.locationRules);
				if (verdict === "future") throw unprocessable("at is in the future", { field: "at" });
				ctx.meta.$statusCode = 202;
				if (verdict !== "accept") return { accepted: false, reason: verdict };
				const position = this.positionFrom(ctx.params);
				this.live.set(courierId, position);
				this.unsavedPositions.add(courierId);
				ctx.broadcast("courier.location.updated", {
					courierId,
					...position,
					orderId: state.currentOrderId || null,
				});
				return { accepted: true };
			},
		},

		/** Internal (orders' GET /orders/:id): the courier's last position and an ETA to a point. */
		eta: {
			visibility: "public",
			params: { courierId: id, to: point, via: { ...point, optional: true } },
			async handler(this: any, ctx: Ctx) {
				const position = await this.lastPosition(ctx.params.courierId);
				if (!position) return null;
				const { to, via } = ctx.params;
				const etaMinutes = via
					? etaViaPickupMinutes(position, via, to)
					: courierEtaMinutes(position, to, position.speed);
				return { position: { lat: position.lat, lng: position.lng, at: position.at }, etaMinutes };
			},
		},

		/** Server-Sent Events for the order's customer: position and status changes until delivery. */
		track: {
			rest: "GET /orders/:id/track",
			auth: { roles: ["customer", "admin"] },
			params: { id },
			async handler(this: any, ctx: Ctx) {
				// orders decides who may see the order (403/404 propagate).
				const order: Doc = await ctx.call("orders.get", { id: ctx.params.id }, { meta: ctx.meta });
				ctx.meta.$responseType = "text/event-stream";
				ctx.meta.$responseHeaders = {
					"Cache-Control": "no-cache",
					Connection: "keep-alive",
					"X-Accel-Buffering": "no",
				};
				return this.openTrackingStream(order);
			},
		},

		/** Internal: run a dispatch round now (operators, tests). */
		dispatchNow: {
			visibility: "public",
			params: {},
			async handler(this: any) {
				await this.dispatchWaiting();
				return { waiting: await this.countEntities({ kind: "dispatch", status: "waiting" }) };
			},
		},
	} as any,

	events: {
		/** Every instance keeps the latest position of every courier (and feeds its open tracking streams). */
		"courier.location.updated"(this: any, ctx: Context<any>) {
			const p = ctx.params;
			if (!p || typeof p.courierId !== "string" || typeof p.at !== "string") return;
			const last: LivePosition | undefined = this.live.get(p.courierId);
			if (last && Date.parse(last.at) > Date.parse(p.at)) return;
			this.live.set(p.courierId, this.positionFrom(p));
			this.trackingBus.emit(`courier:${p.courierId}`, p);
		},
		/** A courier's status or current order changed on some instance. */
		"couriers.state"(this: any, ctx: Context<any>) {
			this.rememberCourierState(ctx.params);
		},
		/** An order's delivery status changed (from this service's consumers); for tracking streams. */
		"couriers.order.status"(this: any, ctx: Context<any>) {
			this.trackingBus.emit(`order:${ctx.params.orderId}`, ctx.params);
		},
	},

	businessEvents: {
		async "order.confirmed"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const dispatch = await this.openDispatch(ctx, envelope.data);
			if (dispatch.status === "waiting") await this.tryAssign(ctx, dispatch);
		},
		"order.in_transit"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { orderId, courierId } = envelope.data;
			this.announceOrderStatus(ctx, { orderId, status: "in_transit", courierId });
		},
		async "order.delivered"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.completeDelivery(ctx, envelope.data);
		},
		async "order.cancelled"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.cancelDispatch(ctx, envelope.data);
		},
		/** A suspended or deleted courier stops taking deliveries. */
		async "user.updated"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { userId, role, status } = envelope.data;
			if (role !== "courier" || !status || status === "active" || status === "pending_verification") return;
			const updated = await this.compareAndSet(
				ctx,
				{ _id: userId, kind: "courier", status: "available" },
				{ $set: { status: "offline", updatedAt: nowIso() } },
			);
			if (updated) this.announceCourierState(ctx, updated);
		},
	},

	methods: {
		// ---- profiles ----

		/** Whose profile a POST creates: the calling courier's own, or the one an admin names. */
		async profileOwner(this: any, ctx: Ctx): Promise<{ id: string; supplierId: string | null }> {
			const me = ctx.meta.user!;
			const { userId, supplierId } = ctx.params;
			if (me.role === "courier") {
				if ((userId && userId !== me.id) || supplierId) throw forbidden("A courier creates only their own profile");
				if (me.status !== "active")
					throw forbidden("Your account must be verified before you create a courier profile");
				return { id: me.id, supplierId: me.supplierId || null };
			}
			if (!userId)
				throw unprocessable("userId is required when an admin creates a courier profile", { field: "userId" });
			const user: Doc | null = await ctx.call("users.authState", { id: userId });
			if (!user) throw notFound("user", userId);
			if (user.role !== "courier") throw unprocessable("That user is not a courier", { field: "userId" });
			if (user.status !== "active") throw conflict("That courier is not verified yet");
			return { id: userId, supplierId: supplierId || user.supplierId || null };
		},

		async getCourierOr404(this: any, courierId: string): Promise<Doc> {
			const courier = await this.findEntity(courierId);
			if (!courier || courier.kind !== "courier") throw notFound("courier", courierId);
			return courier;
		},

		assertSelfOrAdmin(me: AuthUser, courierId: string) {
			if (me.role !== "admin" && me.id !== courierId) throw forbidden("You can only change your own courier profile");
		},

		assertMaySee(me: AuthUser, courier: Doc) {
			if (me.role === "admin" || me.id === courier._id) return;
			if (me.role === "supplier" && courier.supplierId === me.id) return;
			throw forbidden("You may not see this courier");
		},

		publicCourier(this: any, courier: Doc): Doc {
			const pub = this.toPublic(courier, ["kind", "busySince"]);
			pub.position = this.live.get(courier._id) || courier.position || null;
			return pub;
		},

		nearPoint(rows: Doc[], from: LatLng, radiusKm: number): Doc[] {
			return rows
				.filter((c) => c.position)
				.map((c) => ({ ...c, distanceKm: Math.round(haversineKm(c.position, from) * 1000) / 1000 }))
				.filter((c) => c.distanceKm <= radiusKm)
				.sort((a, b) => a.distanceKm - b.distanceKm);
		},

		// ---- courier state shared between instances ----

		rememberCourierState(this: any, c: Doc) {
			const courierId = c._id || c.courierId;
			this.courierStates.set(courierId, { status: c.status, currentOrderId: c.currentOrderId || null });
		},

		announceCourierState(this: any, ctx: Context | null, courier: Doc) {
			this.rememberCourierState(courier);
			const payload = {
				courierId: courier._id,
				status: courier.status,
				currentOrderId: courier.currentOrderId || null,
			};
			(ctx || this.broker).broadcast("couriers.state", payload);
		},

		async courierStateOr404(this: any, courierId: string) {
			const known = this.courierStates.get(courierId);
			if (known) return known;
			const courier = await this.getCourierOr404(courierId);
			this.rememberCourierState(courier);
			return this.courierStates.get(courierId);
		},

		// ---- live positions ----

		positionFrom(p: Doc): LivePosition {
			return {
				lat: p.lat,
				lng: p.lng,
				accuracy: p.accuracy ?? null,
				speed: p.speed ?? null,
				heading: p.heading ?? null,
				at: new Date(p.at).toISOString(),
			};
		},

		async lastPosition(this: any, courierId: string): Promise<LivePosition | null> {
			const live = this.live.get(courierId);
			if (live) return live;
			const courier = await this.findEntity(courierId);
			return (courier && courier.kind === "courier" && courier.position) || null;
		},

		/** Latest position of each courier reported here since the last flush; no cache clearing, positions are not cached. */
		async persistPositions(this: any) {
			const ids: string[] = [...this.unsavedPositions];
			this.unsavedPositions.clear();
			for (const courierId of ids) {
				const position = this.live.get(courierId);
				if (position) await this.records.updateOne({ _id: courierId }, { $set: { position } });
			}
		},

		// ---- dispatch ----

		/** The dispatch record of a confirmed order (created once; a redelivered event finds it). */
		async openDispatch(this: any, ctx: Ctx, data: Doc): Promise<Doc> {
			const existing = await this.findEntity(dispatchId(data.orderId));
			if (existing) return existing;
			try {
				return await this.insertEntity(ctx, {
					_id: dispatchId(data.orderId),
					kind: "dispatch",
					orderId: data.orderId,
					customerId: data.customerId,
					supplierId: data.supplierId,
					cylinders: data.cylinders,
					supplierLocation: data.supplierLocation,
					deliveryLocation: data.deliveryLocation,
					confirmedAt: data.confirmedAt || nowIso(),
					status: "waiting",
					alerted: false,
					createdAt: nowIso(),
				});
			} catch (err: any) {
				if (err && err.code === 409) return this.findEntity(dispatchId(data.orderId));
				throw err;
			}
		},

		async availableCandidates(this: any): Promise<CourierCandidate[]> {
			const couriers: Doc[] = await this.findEntities({ query: { kind: "courier", status: "available" } });
			return couriers.map((c) => ({
				id: c._id,
				status: c.status,
				capacity: c.capacity,
				supplierId: c.supplierId || null,
				position: this.live.get(c._id) || c.position || null,
			}));
		},

		/** Tries the ranked couriers in turn; returns the assigned dispatch record or null. */
		async tryAssign(this: any, ctx: Ctx | null, dispatch: Doc, candidates?: CourierCandidate[]): Promise<Doc | null> {
			const s = this.dispatchSettings;
			const nowMs = Date.now();
			const radiusKm = radiusForWait(nowMs - Date.parse(dispatch.createdAt), {
				initialKm: s.initialRadiusKm,
				growth: s.radiusGrowth,
				maxKm: s.maxRadiusKm,
				stepMs: s.retryMs,
			});
			const ranked = rankCouriers(candidates || (await this.availableCandidates()), dispatch as any, {
				radiusKm,
				maxPositionAgeMs: s.positionMaxAgeMs,
				nowMs,
			});
			for (const choice of ranked) {
				const assigned = await this.assignCourier(ctx, dispatch, choice.id, radiusKm);
				if (assigned !== undefined) return assigned;
			}
			return null;
		},

		/**
		 * Takes the courier, then the order. Returns the assigned dispatch, null when the order was
		 * assigned or cancelled elsewhere meanwhile, undefined when this courier was taken (try the next).
		 */
		async assignCourier(this: any, ctx: Ctx | null, dispatch: Doc, courierId: string, radiusKm: number) {
			const now = nowIso();
			const courier = await this.compareAndSet(
				ctx,
				{ _id: courierId, kind: "courier", status: "available" },
				{ $set: { status: "busy", currentOrderId: dispatch.orderId, busySince: now, updatedAt: now } },
			);
			if (!courier) return undefined;
			const assigned = await this.compareAndSet(
				ctx,
				{ _id: dispatch._id, status: "waiting" },
				{ $set: { status: "assigned", courierId, assignedAt: now, radiusKm } },
			);
			if (!assigned) {
				// Lost the order to a concurrent dispatch: the courier goes back, and may suit another waiting order.
				if (await this.releaseCourier(ctx, courierId, dispatch.orderId)) this.dispatchWaitingSoon();
				return null;
			}
			this.announceCourierState(ctx, courier);
			await this.announceAssignment(ctx, assigned);
			return assigned;
		},

		async announceAssignment(this: any, ctx: Ctx | null, dispatch: Doc) {
			const position = this.live.get(dispatch.courierId);
			const etaMinutes = position
				? etaViaPickupMinutes(position, dispatch.supplierLocation, dispatch.deliveryLocation)
				: null;
			const waited = waitedSeconds(dispatch.createdAt);
			this.logger.info(
				{ requestId: ctx?.requestID, orderId: dispatch.orderId, courierId: dispatch.courierId, waited },
				"courier assigned",
			);
			await this.publishEvent(
				"courier.assigned",
				{
					orderId: dispatch.orderId,
					courierId: dispatch.courierId,
					supplierId: dispatch.supplierId,
					customerId: dispatch.customerId,
					etaMinutes,
					waitedSeconds: waited,
				},
				ctx,
			);
			this.announceOrderStatus(ctx, { orderId: dispatch.orderId, status: "assigned", courierId: dispatch.courierId });
		},

		/** busy → available, only if the courier is still on this order (idempotent). */
		async releaseCourier(this: any, ctx: Ctx | null, courierId: string, orderId: string): Promise<Doc | null> {
			const freed = await this.compareAndSet(
				ctx,
				{ _id: courierId, kind: "courier", status: "busy", currentOrderId: orderId },
				{ $set: { status: "available", currentOrderId: null, updatedAt: nowIso() }, $unset: { busySince: true } },
			);
			if (freed) this.announceCourierState(ctx, freed);
			return freed;
		},

		/**
		 * Waiting orders, oldest first, each at the radius its wait has grown to; raises the alert for
		 * orders that waited too long. Calls that arrive while a round runs make one more round.
		 */
		async dispatchWaiting(this: any) {
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

		async dispatchRoundOnce(this: any) {
			const waiting: Doc[] = await this.findEntities({
				query: { kind: "dispatch", status: "waiting" },
				sort: ["createdAt"],
			});
			if (waiting.length === 0) return;
			const candidates: CourierCandidate[] = await this.availableCandidates();
			for (const dispatch of waiting) {
				if (candidates.length > 0) {
					const assigned = await this.tryAssign(null, dispatch, candidates);
					if (assigned) {
						const taken = candidates.findIndex((c) => c.id === assigned.courierId);
						if (taken >= 0) candidates.splice(taken, 1);
						continue;
					}
				}
				await this.alertIfWaitedTooLong(dispatch);
			}
		},

		dispatchWaitingSoon(this: any) {
			this.dispatchWaiting().catch((err: Error) => this.logger.warn(`Dispatch round failed: ${err.message}`));
		},

		async alertIfWaitedTooLong(this: any, dispatch: Doc) {
			const waitedMs = Date.now() - Date.parse(dispatch.createdAt);
			if (!shouldAlertUnassigned(waitedMs, this.dispatchSettings.alertAfterMs, dispatch.alerted)) return;
			const marked = await this.compareAndSet(
				null,
				{ _id: dispatch._id, status: "waiting", alerted: false },
				{ $set: { alerted: true, alertedAt: nowIso() } },
			);
			if (!marked) return;
			this.logger.warn({ orderId: dispatch.orderId }, "no courier for an order");
			await this.publishEvent("delivery.unassigned", {
				orderId: dispatch.orderId,
				supplierId: dispatch.supplierId,
				waitedSeconds: waitedSeconds(dispatch.createdAt),
			});
		},

		/** Couriers left busy by an instance that died between taking the courier and the order. */
		async releaseOrphanedCouriers(this: any) {
			const before = new Date(Date.now() - this.dispatchSettings.orphanAfterMs).toISOString();
			const busy: Doc[] = await this.findEntities({
				query: { kind: "courier", status: "busy", busySince: { $lt: before } },
			});
			for (const courier of busy) {
				const dispatch = await this.findEntity(dispatchId(courier.currentOrderId));
				const holds = dispatch && dispatch.status === "assigned" && dispatch.courierId === courier._id;
				if (!holds && (await this.releaseCourier(null, courier._id, courier.currentOrderId)))
					this.logger.warn({ courierId: courier._id, orderId: courier.currentOrderId }, "released an orphaned courier");
			}
		},

		async completeDelivery(this: any, ctx: Ctx, data: Doc) {
			const { orderId } = data;
			const dispatch = await this.findEntity(dispatchId(orderId));
			const courierId = data.courierId || (dispatch && dispatch.courierId);
			const deliveredAt = data.deliveredAt || nowIso();
			const finished = await this.compareAndSet(
				ctx,
				{ _id: dispatchId(orderId), status: "assigned" },
				{ $set: { status: "delivered", deliveredAt } },
			);
			const freed = courierId ? await this.releaseCourier(ctx, courierId, orderId) : null;
			this.announceOrderStatus(ctx, { orderId, status: "delivered", courierId });
			// Published once: by whoever moved the dispatch to delivered (or freed the courier, without a record).
			if (finished || (!dispatch && freed)) {
				const confirmedAt = data.confirmedAt || (dispatch && dispatch.confirmedAt) || deliveredAt;
				await this.publishEvent(
					"delivery.completed",
					{
						orderId,
						courierId,
						supplierId: data.supplierId || (dispatch && dispatch.supplierId),
						customerId: data.customerId || (dispatch && dispatch.customerId),
						minutes: deliveryMinutes(confirmedAt, deliveredAt),
					},
					ctx,
				);
			}
			if (freed) this.dispatchWaitingSoon();
		},

		async cancelDispatch(this: any, ctx: Ctx, data: Doc) {
			const { orderId } = data;
			const dispatch = await this.markDispatchCancelled(ctx, orderId);
			const courierId = data.courierId || (dispatch && dispatch.courierId);
			const freed = courierId ? await this.releaseCourier(ctx, courierId, orderId) : null;
			this.announceOrderStatus(ctx, { orderId, status: "cancelled", courierId: courierId || null });
			if (freed) this.dispatchWaitingSoon();
		},

		/**
		 * Cancels the order's dispatch. Events on a topic are handled concurrently, so the
		 * cancellation may come before the confirmation: then a "cancelled" record is left as a
		 * tombstone, and the late order.confirmed finds it and assigns nobody.
		 */
		async markDispatchCancelled(this: any, ctx: Ctx, orderId: string): Promise<Doc | null> {
			const cancel = { $set: { status: "cancelled", cancelledAt: nowIso() } };
			const live = { _id: dispatchId(orderId), status: { $in: ["waiting", "assigned"] } };
			const dispatch = await this.compareAndSet(ctx, live, cancel);
			if (dispatch || (await this.findEntity(dispatchId(orderId)))) return dispatch;
			try {
				await this.insertEntity(ctx, {
					_id: dispatchId(orderId),
					kind: "dispatch",
					orderId,
					status: "cancelled",
					cancelledAt: nowIso(),
					createdAt: nowIso(),
				});
				return null;
			} catch (err: any) {
				if (err && err.code === 409) return this.compareAndSet(ctx, live, cancel); // the confirmation won the insert
				throw err;
			}
		},

		// ---- tracking ----

		announceOrderStatus(
			this: any,
			ctx: Context | null,
			payload: { orderId: string; status: string; courierId?: string | null },
		) {
			(ctx || this.broker).broadcast("couriers.order.status", { ...payload, at: nowIso() });
		},

		/** An SSE stream for one order (lib/tracking-stream.ts), fed by this instance's tracking bus. */
		async openTrackingStream(this: any, order: Doc): Promise<PassThrough> {
			const courierId: string | null = order.courierId || null;
			const position = courierId ? await this.lastPosition(courierId) : null;
			return openTrackingStream({
				order,
				bus: this.trackingBus,
				initialPosition: position ? this.trackedPosition({ courierId, ...position }, order) : null,
				toTracked: (p: Doc) => this.trackedPosition(p, order),
				heartbeatMs: this.dispatchSettings.trackHeartbeatMs,
			});
		},

		trackedPosition(p: Doc, order: Doc) {
			const to = order.deliveryLocation || order.deliveryAddress;
			const etaMinutes = to && Number.isFinite(to.lat) ? courierEtaMinutes(p as LatLng, to, p.speed) : null;
			return { courierId: p.courierId, lat: p.lat, lng: p.lng, heading: p.heading ?? null, at: p.at, etaMinutes };
		},
	},

	created(this: any) {
		this.dispatchSettings = dispatchSettings();
		this.locationRules = {
			maxAgeMs: this.dispatchSettings.locationMaxAgeMs,
			maxFutureSkewMs: this.dispatchSettings.locationMaxSkewMs,
		};
		this.live = new Map<string, LivePosition>();
		this.courierStates = new Map<string, { status: string; currentOrderId: string | null }>();
		this.unsavedPositions = new Set<string>();
		this.trackingBus = new EventEmitter();
		this.trackingBus.setMaxListeners(0);
		this.dispatchRound = null;
	},

	async started(this: any) {
		const s = this.dispatchSettings;
		this.flushTimer = setInterval(
			() => this.persistPositions().catch((err: Error) => this.logger.warn(`Saving positions failed: ${err.message}`)),
			s.locationFlushMs,
		);
		this.retryTimer = setInterval(() => {
			this.dispatchWaitingSoon();
			this.releaseOrphanedCouriers().catch((err: Error) => this.logger.warn(`Orphan check failed: ${err.message}`));
		}, s.retryMs);
		this.flushTimer.unref();
		this.retryTimer.unref();
	},

	async stopped(this: any) {
		clearInterval(this.flushTimer);
		clearInterval(this.retryTimer);
		await this.persistPositions().catch(() => undefined);
		this.trackingBus.removeAllListeners();
	},
};

export = CouriersService;
