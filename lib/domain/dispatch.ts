/**
 * Dispatch rules, without a broker: which courier takes an order (capacity, supplier, distance),
 * how far we look as an order waits, when a waiting order raises an alert, which location reports
 * count, and what a courier carries after taking or handing over an order.
 */
import { haversineKm, LatLng } from "./geo";
import type { CourierOffer, Dispatch } from "../contracts/couriers";
import type { OrderCancelled, OrderConfirmed } from "../contracts/events";

export type CourierStatus = "offline" | "available" | "busy";
export const COURIER_STATUSES: CourierStatus[] = ["offline", "available", "busy"];

export interface CourierCandidate {
	id: string;
	status: CourierStatus;
	/** Cylinders the vehicle carries. */
	capacity: number;
	/** Cylinders of the orders it carries now. */
	load: number;
	/** The supplier the courier belongs to; null for an independent courier. */
	supplierId: string | null;
	/** Last known position; a courier that never reported one cannot be measured and is skipped. */
	position: (LatLng & { at?: string }) | null;
}

export interface OrderToDispatch {
	supplierId: string;
	cylinders: number;
	/** Where the cylinders are picked up; the delivery point when the supplier has no location. */
	supplierLocation: LatLng | null;
	deliveryLocation?: LatLng | null;
}

export interface RankedCourier {
	id: string;
	distanceKm: number;
	ownCourier: boolean;
}

export interface RankOptions {
	radiusKm: number;
	/** Positions older than this (relative to nowMs) are not trusted for dispatch. */
	maxPositionAgeMs?: number;
	nowMs?: number;
}

/**
 * A courier may take an order from its own supplier, or any order when independent; a courier of
 * another supplier works only for that supplier.
 */
export function mayServe(courier: CourierCandidate, order: OrderToDispatch): boolean {
	return courier.supplierId === null || courier.supplierId === order.supplierId;
}

/**
 * Whether the courier has room for the order now: on duty (available, or busy with other orders)
 * and its load plus the order's cylinders within the vehicle's capacity. A courier with capacity 2
 * carrying one cylinder is offered a second one-cylinder order.
 */
export function hasRoomFor(
	courier: Pick<CourierCandidate, "status" | "capacity" | "load">,
	cylinders: number,
): boolean {
	return courier.status !== "offline" && courier.load + cylinders <= courier.capacity;
}

/** The highest load a courier may have before taking `cylinders` more (the store's compare-and-set bound). */
export function maxLoadBefore(capacity: number, cylinders: number): number {
	return capacity - cylinders;
}

/** Where the courier goes first for the order. */
export function pickupPoint(order: OrderToDispatch): LatLng | null {
	return order.supplierLocation || order.deliveryLocation || null;
}

function positionIsFresh(courier: CourierCandidate, opts: RankOptions): boolean {
	if (!courier.position) return false;
	if (opts.maxPositionAgeMs === undefined || !courier.position.at) return true;
	const age = (opts.nowMs ?? Date.now()) - Date.parse(courier.position.at);
	return age <= opts.maxPositionAgeMs;
}

/**
 * Couriers that could take the order, best first: the supplier's own couriers before independent
 * ones, then nearest to the supplier (where the cylinders are picked up). Busy couriers with room
 * left compete with free ones. The caller tries them in this order, because the first one may be
 * taken by a concurrent dispatch.
 */
export function rankCouriers(couriers: CourierCandidate[], order: OrderToDispatch, opts: RankOptions): RankedCourier[] {
	const ranked: RankedCourier[] = [];
	const pickup = pickupPoint(order);
	if (!pickup) return ranked;
	for (const courier of couriers) {
		if (!courier.position || !hasRoomFor(courier, order.cylinders)) continue;
		if (!mayServe(courier, order) || !positionIsFresh(courier, opts)) continue;
		const distanceKm = haversineKm(courier.position, pickup);
		if (distanceKm > opts.radiusKm) continue;
		ranked.push({ id: courier.id, distanceKm, ownCourier: courier.supplierId === order.supplierId });
	}
	return ranked.sort((a, b) => Number(b.ownCourier) - Number(a.ownCourier) || a.distanceKm - b.distanceKm);
}

/** The best courier for the order within the radius, or null. */
export function nearestAvailableCourier(
	couriers: CourierCandidate[],
	order: OrderToDispatch,
	opts: RankOptions,
): RankedCourier | null {
	return rankCouriers(couriers, order, opts)[0] || null;
}

export interface RadiusSchedule {
	initialKm: number;
	/** Factor applied at each retry step. */
	growth: number;
	maxKm: number;
	/** Length of one retry step. */
	stepMs: number;
}

/**
 * How far to look for a courier for an order that has waited `waitedMs`: the radius grows by
 * `growth` every step, up to `maxKm`. Derived from the waiting time rather than a stored counter,
 * so every instance computes the same radius without writing on each retry.
 */
export function radiusForWait(waitedMs: number, schedule: RadiusSchedule): number {
	const steps = Math.max(0, Math.floor(waitedMs / Math.max(1, schedule.stepMs)));
	const radius = schedule.initialKm * Math.max(1, schedule.growth) ** steps;
	return Math.min(schedule.maxKm, radius);
}

/** True once an order has waited long enough for an alert, and none was raised yet. */
export function shouldAlertUnassigned(waitedMs: number, alertAfterMs: number, alreadyAlerted: boolean): boolean {
	return !alreadyAlerted && waitedMs >= alertAfterMs;
}

export function waitedSeconds(sinceIso: string, nowMs = Date.now()): number {
	return Math.max(0, Math.round((nowMs - Date.parse(sinceIso)) / 1000));
}

/** Whole minutes from confirmation to delivery (delivery.completed). */
export function deliveryMinutes(confirmedAtIso: string, deliveredAtIso: string): number {
	return Math.max(0, Math.round((Date.parse(deliveredAtIso) - Date.parse(confirmedAtIso)) / 60_000));
}

export type LocationVerdict = "accept" | "out_of_order" | "stale" | "future";

export interface LocationRules {
	/** Reports older than this (by the client's clock vs ours) are not worth showing. */
	maxAgeMs: number;
	/** Tolerated clock skew for reports that claim to be from the future. */
	maxFutureSkewMs: number;
}

/**
 * Whether a location report should replace the last known one: newer than it (reports can arrive
 * out of order over mobile networks), not too old, not from the future beyond the clock skew.
 */
export function judgeLocationReport(
	atIso: string,
	lastAtIso: string | null | undefined,
	rules: LocationRules,
	nowMs = Date.now(),
): LocationVerdict {
	const at = Date.parse(atIso);
	if (at > nowMs + rules.maxFutureSkewMs) return "future";
	if (at < nowMs - rules.maxAgeMs) return "stale";
	if (lastAtIso && at <= Date.parse(lastAtIso)) return "out_of_order";
	return "accept";
}

/** ISO 8601 timestamp with a timezone (what clients must send as `at`). */
export function isIsoTimestamp(value: string): boolean {
	return (
		/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !isNaN(Date.parse(value))
	);
}

/** A courier's load and orders, as the store holds them. */
export interface CourierLoad {
	load: number;
	assignments: Record<string, { cylinders: number }>;
}

/**
 * What handing over (delivered, cancelled) one order changes: the cylinders it frees and whether the
 * courier is left with no order (then available again). null when the courier does not carry it.
 */
export function releaseOf(courier: CourierLoad, orderId: string): { cylinders: number; idle: boolean } | null {
	const held = courier.assignments[orderId];
	if (!held) return null;
	const others = Object.keys(courier.assignments).filter((id) => id !== orderId);
	return { cylinders: held.cylinders, idle: others.length === 0 };
}

/** Orders a courier carries, oldest first. */
export function carriedOrders(assignments: Record<string, { since: string }>): string[] {
	return Object.entries(assignments)
		.sort(([, a], [, b]) => Date.parse(a.since) - Date.parse(b.since))
		.map(([orderId]) => orderId);
}

/**
 * Orders a courier holds without a dispatch that names it (an instance died between taking the
 * courier and the order), held longer than `orphanAfterMs`; `heldBy` answers from the dispatches.
 */
export function orphanedOrders(
	assignments: Record<string, { since: string }>,
	heldBy: (orderId: string) => boolean,
	orphanAfterMs: number,
	nowMs = Date.now(),
): string[] {
	return Object.entries(assignments)
		.filter(([orderId, a]) => nowMs - Date.parse(a.since) >= orphanAfterMs && !heldBy(orderId))
		.map(([orderId]) => orderId);
}

/** The dispatch record of a confirmed order, waiting for a courier. */
export function newDispatch(data: OrderConfirmed, now: string): Dispatch {
	const { orderId, customerId, supplierId, cylinders, supplierLocation, deliveryLocation } = data;
	return {
		_id: orderId,
		...{ orderId, customerId, supplierId, cylinders, supplierLocation, deliveryLocation },
		totalCents: data.totalCents,
		paymentMethod: data.paymentMethod,
		confirmedAt: data.confirmedAt || now,
		status: "waiting",
		alerted: false,
		createdAt: now,
	};
}

/** What a cancellation handled before the confirmation leaves: the late confirmation assigns nobody. */
export function dispatchTombstone(
	data: Pick<OrderCancelled, "orderId" | "customerId" | "supplierId">,
	now: string,
): Dispatch {
	const { orderId, customerId, supplierId } = data;
	return {
		_id: orderId,
		...{ orderId, customerId, supplierId, cylinders: 0, supplierLocation: null, deliveryLocation: null },
		confirmedAt: now,
		status: "cancelled",
		alerted: false,
		cancelledAt: now,
		createdAt: now,
	};
}

/** Couriers that may still be offered the order: those that declined it (or let its offer run out) are left out. */
export function withoutDecliners<C extends { id: string }>(couriers: C[], dispatch: Pick<Dispatch, "declinedBy">): C[] {
	const declined = new Set(dispatch.declinedBy || []);
	return declined.size ? couriers.filter((c) => !declined.has(c.id)) : couriers;
}

/** When an offer made at `nowMs` ends; null when offers are off (0: the courier is assigned at once). */
export function offerExpiry(offerMs: number, nowMs: number): string | null {
	return offerMs > 0 ? new Date(nowMs + offerMs).toISOString() : null;
}

/** An open offer whose time is up. */
export function offerExpired(dispatch: Pick<Dispatch, "status" | "offerExpiresAt">, nowMs: number): boolean {
	return dispatch.status === "offered" && !!dispatch.offerExpiresAt && Date.parse(dispatch.offerExpiresAt) <= nowMs;
}

const roundKm = (km: number) => Math.round(km * 10) / 10;

/** What the courier sees of an offer: the money, the cylinders, how far to the pickup and then to the customer. */
export function offerView(dispatch: Dispatch, courierAt: LatLng | null): CourierOffer {
	const pickup = pickupPoint(dispatch);
	return {
		orderId: dispatch.orderId,
		expiresAt: dispatch.offerExpiresAt || dispatch.createdAt,
		cylinders: dispatch.cylinders,
		totalCents: dispatch.totalCents ?? null,
		paymentMethod: dispatch.paymentMethod ?? null,
		supplierLocation: dispatch.supplierLocation,
		deliveryLocation: dispatch.deliveryLocation,
		toPickupKm: courierAt && pickup ? roundKm(haversineKm(courierAt, pickup)) : null,
		pickupToDeliveryKm:
			pickup && dispatch.deliveryLocation ? roundKm(haversineKm(pickup, dispatch.deliveryLocation)) : null,
	};
}
