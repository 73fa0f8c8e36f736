/**
 * The compare-and-set writes that move orders onto and off a courier (store filters and updates;
 * the arithmetic is lib/domain/dispatch.ts). `assignments.<orderId>` marks that the courier carries
 * the order, `load` the cylinders it carries: both change in one write, so the filters decide races.
 */
import type { Courier } from "../contracts/couriers";
import type { CourierCandidate } from "../domain/dispatch";
import { maxLoadBefore } from "../domain/dispatch";
import type { Filter, UpdateSpec } from "./store/types";

const held = (orderId: string) => `assignments.${orderId}`;

/** Takes the order if the courier (same capacity) still has room for it and does not carry it yet. */
export function takeWrite(
	c: Pick<CourierCandidate, "id" | "capacity">,
	order: { orderId: string; cylinders: number },
	now: string,
): { query: Filter; update: UpdateSpec } {
	const room = maxLoadBefore(c.capacity, order.cylinders);
	return {
		query: {
			_id: c.id,
			status: { $in: ["available", "busy"] },
			capacity: c.capacity,
			[held(order.orderId)]: { $exists: false },
			// A profile stored before loads were kept counts as empty while available.
			$or: [{ load: { $lte: room } }, { load: { $exists: false }, status: "available" }],
		},
		update: {
			$set: { status: "busy", [held(order.orderId)]: { cylinders: order.cylinders, since: now }, updatedAt: now },
			$inc: { load: order.cylinders },
		},
	};
}

/**
 * Hands the order back while the courier carries it and its load is still the one read (else the
 * caller reads again); available again with its last order.
 */
export function releaseWrite(
	courier: Pick<Courier, "_id" | "load" | "status">,
	orderId: string,
	release: { cylinders: number; idle: boolean },
	now: string,
): { query: Filter; update: UpdateSpec } {
	const idle = release.idle && courier.status === "busy" ? { status: "available" } : {};
	return {
		query: { _id: courier._id, load: courier.load, [held(orderId)]: { $exists: true } },
		update: {
			$unset: { [held(orderId)]: true },
			$inc: { load: -release.cylinders },
			$set: { updatedAt: now, ...idle },
		},
	};
}
