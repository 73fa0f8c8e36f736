/**
 * Courier profiles without a broker: the public view of a courier, who may see or change one, and
 * the search around a point.
 */
import type { AuthUser } from "./access";
import { carriedOrders } from "./dispatch";
import { deliveryEtaMinutes } from "./eta";
import { haversineKm, LatLng } from "./geo";
import type { Courier, CourierView, LivePosition } from "../contracts/couriers";

/** The courier as actions return it, with its freshest position (live one first). */
export function courierView(courier: Courier, live: LivePosition | undefined): CourierView {
	const { _id, assignments, busySince: _busySince, position, ...rest } = courier;
	const orderIds = carriedOrders(assignments || {});
	return {
		...rest,
		id: _id,
		load: courier.load ?? 0,
		position: live || position || null,
		orderIds,
		currentOrderId: orderIds[0] ?? null,
	};
}

/** Couriers within `radiusKm` of a point, nearest first, with their distance (metre precision). */
export function nearPoint(rows: CourierView[], from: LatLng, radiusKm: number): CourierView[] {
	const located: CourierView[] = [];
	for (const c of rows) {
		if (!c.position) continue;
		const distanceKm = Math.round(haversineKm(c.position, from) * 1000) / 1000;
		if (distanceKm <= radiusKm) located.push({ ...c, distanceKm });
	}
	return located.sort((a, b) => a.distanceKm! - b.distanceKm!);
}

/** An admin sees every courier; a courier itself; a supplier its own couriers. */
export function maySeeCourier(me: AuthUser, courier: Pick<Courier, "_id" | "supplierId">): boolean {
	if (me.role === "admin" || me.id === courier._id) return true;
	return me.role === "supplier" && courier.supplierId === me.id;
}

/** Only the courier itself or an admin changes a profile. */
export function mayChangeCourier(me: AuthUser, courierId: string): boolean {
	return me.role === "admin" || me.id === courierId;
}

/** A position as the store and the tracking streams keep it (`at` normalised to UTC). */
export function positionFrom(p: {
	lat: number;
	lng: number;
	accuracy?: number | null;
	speed?: number | null;
	heading?: number | null;
	at: string;
}): LivePosition {
	return {
		lat: p.lat,
		lng: p.lng,
		accuracy: p.accuracy ?? null,
		speed: p.speed ?? null,
		heading: p.heading ?? null,
		at: new Date(p.at).toISOString(),
	};
}

/** A position as a tracking stream shows it: where the courier is, and the delivery's ETA (lib/domain/eta.ts). */
export function trackedPosition(
	p: LivePosition & { courierId: string },
	to: LatLng | null,
	pickup: LatLng | null = null,
	pickedUp = true,
): { courierId: string; lat: number; lng: number; heading: number | null; at: string; etaMinutes: number | null } {
	const etaMinutes = to && Number.isFinite(to.lat) ? deliveryEtaMinutes(p, { to, pickup, pickedUp }) : null;
	return { courierId: p.courierId, lat: p.lat, lng: p.lng, heading: p.heading ?? null, at: p.at, etaMinutes };
}
