/**
 * Stored shapes of the couriers service, and its actions' params and results.
 *
 * Records: courier profiles (main collection `couriers`, `_id` = the courier's user id) and
 * `dispatches` (a named kind, `_id` = the order id, one per confirmed or cancelled order).
 */
import type { StoredDoc } from "../infra/store/types";
import { COURIER_STATUSES, CourierStatus } from "../domain/dispatch";
import type { Point } from "./common";
import { idParam, optionalId, pageParams, pointParam } from "./params";

export type { CourierStatus } from "../domain/dispatch";

export type VehicleType = "motorcycle" | "car" | "van" | "truck" | "bicycle";
export const VEHICLE_TYPES: VehicleType[] = ["motorcycle", "car", "van", "truck", "bicycle"];

export interface Vehicle {
	type: VehicleType;
	plate: string;
}

/** A courier's last known position (as reported, `at` normalised to UTC). */
export interface LivePosition extends Point {
	accuracy: number | null;
	speed: number | null;
	heading: number | null;
	at: string;
}

/** One order a courier carries: how many cylinders it takes of the vehicle, since when. */
export interface CourierAssignment {
	cylinders: number;
	since: string;
}

export interface Courier extends StoredDoc {
	/** The supplier the courier works for; null for an independent courier. */
	supplierId: string | null;
	vehicle: Vehicle;
	/** Cylinders the vehicle carries. */
	capacity: number;
	/** offline / available (no order) / busy (carrying at least one order). */
	status: CourierStatus;
	/** Cylinders of the orders carried now (the sum of `assignments`). */
	load: number;
	/** Orders carried now: order id → assignment. */
	assignments: Record<string, CourierAssignment>;
	/** Persisted on a timer, latest only (the live one is in memory). */
	position: LivePosition | null;
	/** When the courier last went from no order to busy. */
	busySince?: string;
	createdAt: string;
	updatedAt: string;
}

/** "offered": a courier was offered the order (DISPATCH_OFFER_MS) and may accept or decline until it expires. */
export type DispatchStatus = "waiting" | "offered" | "assigned" | "delivered" | "cancelled";

/**
 * The dispatch of one order. A cancellation handled before the confirmation leaves a "cancelled"
 * tombstone without the order's details (cylinders 0, no locations).
 */
export interface Dispatch extends StoredDoc {
	orderId: string;
	customerId: string;
	supplierId: string;
	cylinders: number;
	supplierLocation: Point | null;
	deliveryLocation: Point | null;
	confirmedAt: string;
	status: DispatchStatus;
	/** delivery.unassigned was raised. */
	alerted: boolean;
	alertedAt?: string;
	courierId?: string;
	assignedAt?: string;
	radiusKm?: number;
	/** The open offer's end (status "offered"). */
	offerExpiresAt?: string;
	/** Couriers that declined the order or let its offer expire: not offered it again. */
	declinedBy?: string[];
	totalCents?: number;
	paymentMethod?: string;
	deliveredAt?: string;
	cancelledAt?: string;
	createdAt: string;
}

/** A job offered to a courier (GET /couriers/:id/offers): what it needs to decide before the offer ends. */
export interface CourierOffer {
	orderId: string;
	expiresAt: string;
	cylinders: number;
	totalCents: number | null;
	paymentMethod: string | null;
	supplierLocation: Point | null;
	deliveryLocation: Point | null;
	/** From the courier's last position to the pickup, and from the pickup to the customer. */
	toPickupKm: number | null;
	pickupToDeliveryKm: number | null;
}

export const OFFER_PARAMS = { id: idParam, orderId: idParam };
export interface OfferParams {
	id: string;
	orderId: string;
}

/** A courier as actions return it. */
export type CourierView = Omit<Courier, "_id" | "assignments" | "busySince" | "position"> & {
	id: string;
	position: LivePosition | null;
	/** Orders carried now, oldest first. */
	orderIds: string[];
	/** The oldest order carried now (null when none): kept for clients that show one order. */
	currentOrderId: string | null;
	/** Set by the list action when it filters by distance. */
	distanceKm?: number;
	/** Set by the list action: the courier's name (null when users did not answer in time). */
	name?: string | null;
};

/** What couriers broadcast between instances when a courier's status or orders change. */
export interface CourierState {
	courierId: string;
	status: CourierStatus;
	orderIds: string[];
}

/** The answer of orders.trackingView: may this user follow the order, and where it goes. */
export interface TrackingView {
	visible: boolean;
	/** Where the courier picks the order up (the ETA goes by it until the order is in transit). */
	supplierLocation?: Point | null;
	status: string;
	deliveryLocation: Point | null;
	courierId: string | null;
	customerId: string;
	supplierId: string;
}

// ---- action params and results ----

export interface IdParams {
	id: string;
}

export interface CreateCourierParams {
	userId?: string;
	supplierId?: string;
	vehicle: Vehicle;
	capacity: number;
}

export interface ListCouriersParams {
	status?: CourierStatus;
	supplierId?: string;
	lat?: number;
	lng?: number;
	radiusKm?: number;
	page: number;
	pageSize: number;
}

export interface UpdateCourierParams {
	id: string;
	vehicle?: Vehicle;
	capacity?: number;
}

export interface SetStatusParams {
	id: string;
	status: "available" | "offline";
}

export interface LocationReport {
	id: string;
	lat: number;
	lng: number;
	accuracy?: number;
	speed?: number;
	heading?: number;
	at: string;
}

export type LocationOutcome =
	{ accepted: true; id: string } | { accepted: false; id: string; reason: "out_of_order" | "stale" };

export interface EtaParams {
	courierId: string;
	to: Point;
	via?: Point;
}

export interface EtaResult {
	position: { lat: number; lng: number; at: string };
	etaMinutes: number;
	/** Who is coming, for the customer's tracking page (name and phone from users; null when unknown). */
	courier?: { name: string | null; phone: string | null; vehicle: string | null; plate: string | null };
}

/** The plain courier.location.updated event (broadcast, latest wins). */
export interface LocationUpdate extends LivePosition {
	courierId: string;
	/** The oldest order the courier carries, null when none. */
	orderId: string | null;
}

/** The plain couriers.order.status event that feeds tracking streams. */
export interface OrderStatusUpdate {
	orderId: string;
	status: string;
	courierId: string | null;
	at: string;
}

// ---- action params (fastest-validator), the contract as callers see it ----

const lat = { type: "number", min: -90, max: 90 } as const;
const lng = { type: "number", min: -180, max: 180 } as const;
const vehicle = {
	type: "object",
	strict: true,
	props: {
		type: { type: "enum", values: VEHICLE_TYPES },
		plate: { type: "string", trim: true, uppercase: true, pattern: /^[A-Z0-9-]{5,10}$/ },
	},
} as const;
const capacity = { type: "number", integer: true, min: 1, max: 200 } as const;

export const CREATE_PARAMS = { userId: optionalId, supplierId: optionalId, vehicle, capacity };

export const LIST_PARAMS = {
	status: { type: "enum", values: COURIER_STATUSES, optional: true },
	supplierId: optionalId,
	lat: { ...lat, optional: true, convert: true },
	lng: { ...lng, optional: true, convert: true },
	radiusKm: { type: "number", positive: true, max: 500, optional: true, convert: true },
	...pageParams,
};

export const UPDATE_PARAMS = {
	id: idParam,
	vehicle: { ...vehicle, optional: true },
	capacity: { ...capacity, optional: true },
};

export const STATUS_PARAMS = { id: idParam, status: { type: "enum", values: ["available", "offline"] } };

export const LOCATION_PARAMS = {
	id: idParam,
	lat,
	lng,
	accuracy: { type: "number", min: 0, max: 100_000, optional: true },
	speed: { type: "number", min: 0, max: 150, optional: true },
	heading: { type: "number", min: 0, max: 360, optional: true },
	at: { type: "string", max: 40 },
};

export const ETA_PARAMS = { courierId: idParam, to: pointParam, via: { ...pointParam, optional: true } };
