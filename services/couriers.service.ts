/**
 * Couriers: profiles, availability, live locations, and tracking of an order's delivery (position +
 * ETA, Server-Sent Events). Dispatch of confirmed orders to couriers is the DispatchMixin
 * (mixins/dispatch.mixin.ts; rules in lib/domain/dispatch.ts), fed by the order events below.
 *
 * Records (lib/contracts/couriers.ts): courier profiles (`_id` = the courier's user id) and
 * `dispatches` (one per order). A courier carries orders up to its vehicle's capacity (cylinders):
 * available with none, busy with at least one, offline when off duty.
 *
 * Live positions and the courier state shared between instances: mixins/live-positions.mixin.ts.
 */
import { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { PassThrough } from "stream";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { DispatchMethods, DispatchMixin } from "../mixins/dispatch.mixin";
import { LivePositionMethods, LivePositionsMixin, stateOf } from "../mixins/live-positions.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import { TimersMixin } from "../mixins/timers.mixin";
import { CourierOffersMixin } from "./parts/couriers/offers.mixin";
import type { AuthUser, Ctx } from "../lib/contracts/common";
import { idParam } from "../lib/contracts/params";
import {
	Courier,
	CourierView,
	CreateCourierParams,
	EtaParams,
	EtaResult,
	IdParams,
	ListCouriersParams,
	LocationOutcome,
	LocationReport,
	LocationUpdate,
	OrderStatusUpdate,
	SetStatusParams,
	TrackingView,
	UpdateCourierParams,
} from "../lib/contracts/couriers";
import {
	CREATE_PARAMS,
	ETA_PARAMS,
	LIST_PARAMS,
	LOCATION_PARAMS,
	STATUS_PARAMS,
	UPDATE_PARAMS,
} from "../lib/contracts/couriers";
import type { Page } from "../lib/contracts/common";
import {
	courierView,
	mayChangeCourier,
	maySeeCourier,
	nearPoint,
	positionFrom,
	trackedPosition,
} from "../lib/domain/couriers";
import { carriedOrders, isIsoTimestamp, judgeLocationReport, LocationRules } from "../lib/domain/dispatch";
import { deliveryEtaMinutes } from "../lib/domain/eta";
import { config } from "../lib/infra/config";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { nowIso } from "../lib/infra/ids";
import { trackingViewFor } from "../lib/infra/order-tracking";
import { openTrackingStream, TrackedOrder } from "../lib/infra/tracking-stream";

interface Settings extends ServiceSettingSchema {
	rest: string;
}

type OwnMethods = {
	profileOwner(ctx: Ctx<CreateCourierParams>): Promise<{ id: string; supplierId: string | null }>;
	getCourierOr404(courierId: string): Promise<Courier>;
	contactOf(ctx: Context, courierId: string): Promise<{ name: string; phone: string | null } | null>;
	view(courier: Courier): CourierView;
	announceOrderStatus(ctx: Context | null, update: Omit<OrderStatusUpdate, "at">): void;
	openOrderStream(orderId: string, view: TrackingView): Promise<PassThrough>;
};

type ThisService = Service<Settings> &
	DbMethods<Courier> &
	EventsMethods &
	LivePositionMethods &
	DispatchMethods &
	OwnMethods & {
		locationRules: LocationRules;
		heartbeatMs: number;
	};

const businessEvents: BusinessEventHandlers<ThisService> = {
	async "order.confirmed"(envelope, ctx) {
		const dispatch = await this.openDispatch(ctx, envelope.data);
		if (dispatch.status === "waiting") await this.tryAssign(ctx, dispatch);
	},
	"order.in_transit"(envelope, ctx) {
		const { orderId, courierId } = envelope.data;
		this.announceOrderStatus(ctx, { orderId, status: "in_transit", courierId });
	},
	async "order.delivered"(envelope, ctx) {
		await this.completeDelivery(ctx, envelope.data);
	},
	async "order.cancelled"(envelope, ctx) {
		await this.cancelDispatch(ctx, envelope.data);
	},
	/** A suspended or deleted courier stops taking deliveries (it finishes those it carries). */
	async "user.updated"(envelope, ctx) {
		const { userId, role, status } = envelope.data;
		if (role !== "courier" || !status || status === "active" || status === "pending_verification") return;
		const updated = await this.compareAndSet(
			ctx,
			{ _id: userId, status: "available" },
			{ $set: { status: "offline", updatedAt: nowIso() } },
		);
		if (updated) this.announceCourierState(ctx, updated);
	},
};

const CouriersService: ServiceSchema<Settings, ThisService> = {
	name: "couriers",
	mixins: [
		TimersMixin, // runs DispatchMixin's periodic jobs
		EventsMixin,
		DbMixin<Courier>({
			collection: "couriers",
			indexes: [{ fields: { status: 1 } }, { fields: { supplierId: 1 } }],
			kinds: { dispatches: { indexes: [{ fields: { status: 1, createdAt: 1 } }] } },
		}),
		LivePositionsMixin,
		DispatchMixin,
		CourierOffersMixin,
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /couriers",
			auth: { roles: ["courier", "admin"] },
			params: CREATE_PARAMS,
			async handler(this: ThisService, ctx: Ctx<CreateCourierParams>): Promise<CourierView> {
				const owner = await this.profileOwner(ctx);
				const now = nowIso();
				const courier = await this.insertEntity(ctx, {
					_id: owner.id,
					supplierId: owner.supplierId,
					vehicle: ctx.params.vehicle,
					capacity: ctx.params.capacity,
					status: "offline",
					load: 0,
					assignments: {},
					position: null,
					createdAt: now,
					updatedAt: now,
				});
				this.rememberCourierState(stateOf(courier));
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/couriers/${courier._id}`;
				return this.view(courier);
			},
		},

		list: {
			rest: "GET /couriers",
			auth: { roles: ["admin", "supplier"] },
			params: LIST_PARAMS,
			async handler(this: ThisService, ctx: Ctx<ListCouriersParams>): Promise<Page<CourierView> & { total: number }> {
				const { page, pageSize, status, lat: atLat, lng: atLng, radiusKm } = ctx.params;
				if ((atLat === undefined) !== (atLng === undefined))
					throw unprocessable("Give both lat and lng to filter by distance", { fields: ["lat", "lng"] });
				const query: Record<string, string> = {};
				if (status) query.status = status;
				const me = ctx.meta.user!;
				if (me.role === "supplier") query.supplierId = me.id;
				else if (ctx.params.supplierId) query.supplierId = ctx.params.supplierId;
				let rows = (await this.findEntities({ query, sort: ["createdAt"] })).map((c) => this.view(c));
				if (atLat !== undefined && atLng !== undefined)
					rows = nearPoint(rows, { lat: atLat, lng: atLng }, radiusKm ?? 10);
				const offset = (page - 1) * pageSize;
				// Each courier of the page with its name, for the supplier's and the admin's lists.
				const named = await Promise.all(
					rows.slice(offset, offset + pageSize).map(async (c) => ({
						...c,
						name: (await this.contactOf(ctx, c.id))?.name ?? null,
					})),
				);
				return { rows: named, total: rows.length, page, pageSize };
			},
		},

		get: {
			rest: "GET /couriers/:id",
			params: { id: idParam },
			async handler(this: ThisService, ctx: Ctx<IdParams>): Promise<CourierView> {
				const courier = await this.getCourierOr404(ctx.params.id);
				if (!maySeeCourier(ctx.meta.user!, courier)) throw forbidden("You may not see this courier");
				return this.view(courier);
			},
		},

		update: {
			rest: "PUT /couriers/:id",
			auth: { roles: ["courier", "admin"] },
			params: UPDATE_PARAMS,
			async handler(this: ThisService, ctx: Ctx<UpdateCourierParams>): Promise<CourierView> {
				const { id: courierId, ...changes } = ctx.params;
				if (!mayChangeCourier(ctx.meta.user!, courierId))
					throw forbidden("You can only change your own courier profile");
				await this.getCourierOr404(courierId);
				const updated = await this.updateEntity(ctx, courierId, { $set: { ...changes, updatedAt: nowIso() } });
				return this.view(updated);
			},
		},

		setStatus: {
			rest: "PUT /couriers/:id/status",
			auth: { roles: ["courier", "admin"] },
			params: STATUS_PARAMS,
			async handler(this: ThisService, ctx: Ctx<SetStatusParams>): Promise<CourierView> {
				const me = ctx.meta.user!;
				if (!mayChangeCourier(me, ctx.params.id)) throw forbidden("You can only change your own courier profile");
				if (me.role === "courier" && me.status !== "active")
					throw forbidden("Your account must be verified before you take deliveries");
				const courier = await this.getCourierOr404(ctx.params.id);
				if (courier.status === "busy") {
					const orderIds = carriedOrders(courier.assignments || {});
					throw conflict("You are on a delivery; finish it first", { orderId: orderIds[0] ?? null, orderIds });
				}
				const updated = await this.compareAndSet(
					ctx,
					{ _id: courier._id, status: courier.status },
					{ $set: { status: ctx.params.status, updatedAt: nowIso() } },
				);
				if (!updated) throw conflict("The courier's status changed meanwhile; try again");
				this.announceCourierState(ctx, updated);
				if (updated.status === "available") this.dispatchWaitingSoon();
				return this.view(updated);
			},
		},

		/** The hot path: validate, keep the newest report, broadcast; persisted later on a timer. */
		updateLocation: {
			rest: "PUT /couriers/:id/location",
			// The highest-rate write: its per-call access log line goes at debug level.
			logLevel: "debug",
			auth: { roles: ["courier"] },
			params: LOCATION_PARAMS,
			async handler(this: ThisService, ctx: Ctx<LocationReport>): Promise<LocationOutcome> {
				const { id: courierId, at } = ctx.params;
				if (ctx.meta.user!.id !== courierId) throw forbidden("You can only report your own location");
				if (!isIsoTimestamp(at)) throw unprocessable("at must be an ISO 8601 time with a zone", { field: "at" });
				const state = await this.courierStateOr404(courierId);
				const verdict = judgeLocationReport(at, this.live.get(courierId)?.at, this.locationRules);
				if (verdict === "future") throw unprocessable("at is in the future", { field: "at" });
				ctx.meta.$statusCode = 202;
				if (verdict !== "accept") return { accepted: false, id: courierId, reason: verdict };
				const position = positionFrom(ctx.params);
				this.keepPosition(courierId, position);
				const update: LocationUpdate = { courierId, ...position, orderId: state.orderIds[0] ?? null };
				ctx.broadcast("courier.location.updated", update);
				return { accepted: true, id: courierId };
			},
		},

		/** Internal (orders' GET /orders/:id): the courier's last position and an ETA to a point. */
		eta: {
			visibility: "public",
			params: ETA_PARAMS,
			async handler(this: ThisService, ctx: Ctx<EtaParams>): Promise<EtaResult | null> {
				const position = await this.lastPosition(ctx.params.courierId);
				if (!position) return null;
				const { to, via } = ctx.params;
				const etaMinutes = deliveryEtaMinutes(position, { to, pickup: via, pickedUp: !via });
				const [record, contact] = await Promise.all([
					this.findEntity(ctx.params.courierId),
					this.contactOf(ctx, ctx.params.courierId),
				]);
				const courier = {
					name: contact?.name ?? null,
					phone: contact?.phone ?? null,
					vehicle: record?.vehicle?.type ?? null,
					plate: record?.vehicle?.plate ?? null,
				};
				return { position: { lat: position.lat, lng: position.lng, at: position.at }, etaMinutes, courier };
			},
		},

		/** Server-Sent Events for the order's customer: position and status changes until delivery. */
		track: {
			rest: "GET /orders/:id/track",
			auth: { roles: ["customer", "admin"] },
			params: { id: idParam },
			async handler(this: ThisService, ctx: Ctx<IdParams>): Promise<PassThrough> {
				const view = await trackingViewFor(ctx, ctx.params.id, ctx.meta.user!);
				ctx.meta.$responseType = "text/event-stream";
				ctx.meta.$responseHeaders = {
					"Cache-Control": "no-cache",
					Connection: "keep-alive",
					"X-Accel-Buffering": "no",
				};
				return this.openOrderStream(ctx.params.id, view);
			},
		},

		/** Internal: run a dispatch round now (operators, tests). */
		dispatchNow: {
			visibility: "public",
			params: {},
			async handler(this: ThisService): Promise<{ waiting: number }> {
				await this.dispatchWaiting();
				return { waiting: await this.dispatches().count({ status: "waiting" }) };
			},
		},
	},

	events: {
		/** An order's delivery status changed (from this service's consumers); for tracking streams. */
		"couriers.order.status"(this: ThisService, ctx: Ctx<OrderStatusUpdate>) {
			this.trackingBus.emit(`order:${ctx.params.orderId}`, ctx.params);
		},
	},

	businessEvents,

	methods: {
		/** Whose profile a POST creates: the calling courier's own, or the one an admin names. */
		async profileOwner(this: ThisService, ctx: Ctx<CreateCourierParams>) {
			const me: AuthUser = ctx.meta.user!;
			const { userId, supplierId } = ctx.params;
			if (me.role === "courier") {
				if ((userId && userId !== me.id) || supplierId) throw forbidden("A courier creates only their own profile");
				if (me.status !== "active")
					throw forbidden("Your account must be verified before you create a courier profile");
				return { id: me.id, supplierId: me.supplierId || null };
			}
			if (!userId)
				throw unprocessable("userId is required when an admin creates a courier profile", { field: "userId" });
			const user = await ctx.call<{ role: string; status: string; supplierId?: string | null } | null, IdParams>(
				"users.authState",
				{ id: userId },
			);
			if (!user) throw notFound("user", userId);
			if (user.role !== "courier") throw unprocessable("That user is not a courier", { field: "userId" });
			if (user.status !== "active") throw conflict("That courier is not verified yet");
			return { id: userId, supplierId: supplierId || user.supplierId || null };
		},

		/** A courier's name and phone (users.contact, cached there); null when users does not answer in time. */
		contactOf(this: ThisService, ctx: Context, courierId: string) {
			return ctx
				.call<{ name: string; phone: string | null } | null, { id: string }>(
					"users.contact",
					{ id: courierId },
					{ timeout: 300, retries: 0 },
				)
				.catch(() => null);
		},

		async getCourierOr404(this: ThisService, courierId: string) {
			return this.getEntityOr404(courierId, "courier");
		},

		view(this: ThisService, courier: Courier) {
			return courierView(courier, this.live.get(courier._id));
		},

		// ---- tracking ----

		announceOrderStatus(this: ThisService, ctx: Context | null, update: Omit<OrderStatusUpdate, "at">) {
			const payload: OrderStatusUpdate = { ...update, at: nowIso() };
			(ctx || this.broker).broadcast("couriers.order.status", payload);
		},

		/** An SSE stream for one order (lib/infra/tracking-stream.ts), fed by this instance's tracking bus. */
		async openOrderStream(this: ThisService, orderId: string, view: TrackingView) {
			const order: TrackedOrder = { id: orderId, status: view.status, courierId: view.courierId };
			const position = view.courierId ? await this.lastPosition(view.courierId) : null;
			const initial: LocationUpdate | null =
				view.courierId && position ? { courierId: view.courierId, ...position, orderId } : null;
			return openTrackingStream<LocationUpdate>({
				order,
				bus: this.trackingBus,
				initialPosition:
					initial &&
					trackedPosition(initial, view.deliveryLocation, view.supplierLocation, view.status !== "confirmed"),
				// The order's status follows the stream's status events (picked up: straight to the door).
				toTracked: (p) =>
					trackedPosition(p, view.deliveryLocation, view.supplierLocation, order.status !== "confirmed"),
				heartbeatMs: this.heartbeatMs,
			});
		},
	},

	created(this: ThisService) {
		const s = config().dispatch;
		this.locationRules = { maxAgeMs: s.locationMaxAgeMs, maxFutureSkewMs: s.locationMaxSkewMs };
		this.heartbeatMs = s.trackHeartbeatMs;
	},
};

export = CouriersService;
