export interface LatLng {
	lat: number;
	lng: number;
}

const EARTH_RADIUS_KM = 6371;

function toRadians(degrees: number): number {
	return (degrees * Math.PI) / 180;
}

/** Great-circle distance between two points, in kilometres. */
export function haversineKm(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
	const dLat = toRadians(b.lat - a.lat);
	const dLng = toRadians(b.lng - a.lng);
	const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRadians(a.lat)) * Math.cos(toRadians(b.lat)) * Math.sin(dLng / 2) ** 2;
	return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Urban average speed of a courier on a motorbike/van, used when no better figure is known. */
export const DEFAULT_COURIER_SPEED_KMH = 25;

/** Minutes to travel distanceKm at speedKmh, rounded up, at least 1. */
export function etaMinutes(distanceKm: number, speedKmh = DEFAULT_COURIER_SPEED_KMH): number {
	if (!(speedKmh > 0)) speedKmh = DEFAULT_COURIER_SPEED_KMH;
	return Math.max(1, Math.ceil((distanceKm / speedKmh) * 60));
}

/** ETA between two points at a given speed (minutes, at least 1). */
export function etaMinutesBetween(from: LatLng, to: LatLng, speedKmh = DEFAULT_COURIER_SPEED_KMH): number {
	return etaMinutes(haversineKm(from, to), speedKmh);
}

/** ISO time `minutes` after `fromIso`. */
export function addMinutesIso(fromIso: string, minutes: number): string {
	return new Date(Date.parse(fromIso) + minutes * 60_000).toISOString();
}

export function isValidLatLng(p: LatLng): boolean {
	return Number.isFinite(p.lat) && Number.isFinite(p.lng) && Math.abs(p.lat) <= 90 && Math.abs(p.lng) <= 180;
}
