/**
 * Estimated time of arrival for a courier: straight-line distance stretched to an urban route,
 * at the courier's reported speed when it is a plausible travelling speed, else a default.
 */
import { DEFAULT_COURIER_SPEED_KMH, haversineKm, LatLng } from "./geo";

/** Streets are not straight lines: a typical urban route is about 30% longer than the crow flies. */
export const ROUTE_FACTOR = 1.3;
/** Below this the courier is waiting at a light or loading; the reported speed says nothing about the trip. */
export const MIN_TRAVEL_SPEED_KMH = 10;
/** Above this the GPS speed is noise (or the courier should slow down). */
export const MAX_TRAVEL_SPEED_KMH = 80;

/** GPS speed is reported in metres per second (as the browser Geolocation API does). */
export function metresPerSecondToKmh(speed: number): number {
	return speed * 3.6;
}

/** The speed to plan with: the reported one when plausible, else the urban default. */
export function planningSpeedKmh(reportedMetresPerSecond?: number | null): number {
	if (reportedMetresPerSecond == null || !Number.isFinite(reportedMetresPerSecond)) return DEFAULT_COURIER_SPEED_KMH;
	const kmh = metresPerSecondToKmh(reportedMetresPerSecond);
	if (kmh < MIN_TRAVEL_SPEED_KMH) return DEFAULT_COURIER_SPEED_KMH;
	return Math.min(kmh, MAX_TRAVEL_SPEED_KMH);
}

/** Minutes to cover distanceKm (straight line) at speedKmh along a route; whole minutes, at least 1. */
export function etaMinutesForDistance(distanceKm: number, speedKmh: number): number {
	const speed = speedKmh > 0 ? speedKmh : DEFAULT_COURIER_SPEED_KMH;
	return Math.max(1, Math.ceil(((distanceKm * ROUTE_FACTOR) / speed) * 60));
}

/** ETA from the courier's position (and reported speed, m/s) to a destination. */
export function courierEtaMinutes(from: LatLng, to: LatLng, reportedMetresPerSecond?: number | null): number {
	return etaMinutesForDistance(haversineKm(from, to), planningSpeedKmh(reportedMetresPerSecond));
}

/**
 * ETA for a courier who first picks up at the supplier, then delivers: both legs at the urban
 * default (the speed right now says little about a trip not yet started).
 */
export function etaViaPickupMinutes(courier: LatLng, pickup: LatLng, destination: LatLng): number {
	const km = haversineKm(courier, pickup) + haversineKm(pickup, destination);
	return etaMinutesForDistance(km, DEFAULT_COURIER_SPEED_KMH);
}

/** Where a delivery goes: the door, and the supplier first while the courier has not picked the order up. */
export interface DeliveryLeg {
	to: LatLng;
	pickup?: LatLng | null;
	pickedUp: boolean;
}

/**
 * The one ETA of a delivery, the same wherever it is shown (the "courier on the way" notification
 * at assignment, the order page, the live tracking stream): by the supplier at the urban default
 * speed until the order is picked up (in transit), then straight to the door at the courier's speed.
 */
export function deliveryEtaMinutes(courier: LatLng & { speed?: number | null }, leg: DeliveryLeg): number {
	return !leg.pickedUp && leg.pickup
		? etaViaPickupMinutes(courier, leg.pickup, leg.to)
		: courierEtaMinutes(courier, leg.to, courier.speed);
}
