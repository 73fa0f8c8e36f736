/**
 * Live courier positions and courier state shared between the instances of the couriers service.
 *
 * Every instance keeps the latest position of every courier in memory (fed by the plain, broadcast
 * courier.location.updated event, latest wins) and forwards it to its open tracking streams
 * (`trackingBus`); positions reported here are persisted on the "position-flush" timer, latest only,
 * never two flushes at once. Courier status and orders are broadcast as couriers.state, so the hot
 * location path needs no read.
 */
import { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { EventEmitter } from "events";
import { DbMethods } from "./db.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { Courier, CourierState, LivePosition, LocationUpdate } from "../lib/contracts/couriers";
import { positionFrom } from "../lib/domain/couriers";
import { carriedOrders } from "../lib/domain/dispatch";
import { config } from "../lib/infra/config";

/** What this mixin gives the service. */
export interface LivePositionMethods {
	live: Map<string, LivePosition>;
	trackingBus: EventEmitter;
	/** Remembers a position reported on this instance (persisted by the next flush). */
	keepPosition(courierId: string, position: LivePosition): void;
	lastPosition(courierId: string): Promise<LivePosition | null>;
	persistPositions(): Promise<void>;
	announceCourierState(ctx: Context | null, courier: Courier): void;
	courierStateOr404(courierId: string): Promise<CourierState>;
	rememberCourierState(state: CourierState): void;
}

type ThisMixin = Service &
	DbMethods<Courier> &
	LivePositionMethods & {
		courierStates: Map<string, CourierState>;
		unsavedPositions: Set<string>;
		flushTimer?: NodeJS.Timeout;
		flushing: boolean;
	};

export const stateOf = (c: Courier): CourierState => ({
	courierId: c._id,
	status: c.status,
	orderIds: carriedOrders(c.assignments || {}),
});

type Methods = Omit<LivePositionMethods, "live" | "trackingBus">;

const methods: Methods & ThisType<ThisMixin> = {
	keepPosition(this: ThisMixin, courierId: string, position: LivePosition) {
		this.live.set(courierId, position);
		this.unsavedPositions.add(courierId);
	},

	async lastPosition(this: ThisMixin, courierId: string) {
		const live = this.live.get(courierId);
		if (live) return live;
		return (await this.findEntity(courierId))?.position || null;
	},

	/** Latest position of each courier reported here since the last flush (positions are not cached). */
	async persistPositions(this: ThisMixin) {
		const ids = [...this.unsavedPositions];
		this.unsavedPositions.clear();
		for (const courierId of ids) {
			const position = this.live.get(courierId);
			if (position) await this.records.updateOne({ _id: courierId }, { $set: { position } });
		}
	},

	rememberCourierState(this: ThisMixin, state: CourierState) {
		this.courierStates.set(state.courierId, state);
	},

	announceCourierState(this: ThisMixin, ctx: Context | null, courier: Courier) {
		const state = stateOf(courier);
		this.rememberCourierState(state);
		(ctx || this.broker).broadcast("couriers.state", state);
	},

	async courierStateOr404(this: ThisMixin, courierId: string) {
		const known = this.courierStates.get(courierId);
		if (known) return known;
		const state = stateOf(await this.getEntityOr404(courierId, "courier"));
		this.rememberCourierState(state);
		return state;
	},
};

const schema: Partial<ServiceSchema<ServiceSettingSchema, ThisMixin>> = {
	events: {
		/** Every instance keeps the latest position of every courier (and feeds its open tracking streams). */
		"courier.location.updated"(this: ThisMixin, ctx: Ctx<LocationUpdate>) {
			const p = ctx.params;
			if (!p || typeof p.courierId !== "string" || typeof p.at !== "string") return;
			const last = this.live.get(p.courierId);
			if (last && Date.parse(last.at) > Date.parse(p.at)) return;
			this.live.set(p.courierId, positionFrom(p));
			this.trackingBus.emit(`courier:${p.courierId}`, p);
		},
		/** A courier's status or orders changed on some instance. */
		"couriers.state"(this: ThisMixin, ctx: Ctx<CourierState>) {
			this.rememberCourierState(ctx.params);
		},
	},

	methods: methods as unknown as ServiceSchema["methods"],

	created(this: ThisMixin) {
		this.live = new Map();
		this.courierStates = new Map();
		this.unsavedPositions = new Set();
		this.trackingBus = new EventEmitter();
		this.trackingBus.setMaxListeners(0);
		this.flushing = false;
	},

	started(this: ThisMixin) {
		this.flushTimer = setInterval(() => {
			if (this.flushing) return;
			this.flushing = true;
			this.persistPositions()
				.catch((err: Error) => this.logger.warn(`position-flush: saving positions failed: ${err.message}`))
				.finally(() => (this.flushing = false));
		}, config().dispatch.locationFlushMs);
		this.flushTimer.unref();
	},

	async stopped(this: ThisMixin) {
		clearInterval(this.flushTimer);
		await this.persistPositions().catch((err: Error) =>
			this.logger.warn(`position-flush: last save failed: ${err.message}`),
		);
		this.trackingBus.removeAllListeners();
	},
};

// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
export const LivePositionsMixin = schema as unknown as Partial<ServiceSchema>;
