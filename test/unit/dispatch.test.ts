import {
	CourierCandidate,
	carriedOrders,
	deliveryMinutes,
	hasRoomFor,
	isIsoTimestamp,
	judgeLocationReport,
	nearestAvailableCourier,
	orphanedOrders,
	radiusForWait,
	rankCouriers,
	releaseOf,
	shouldAlertUnassigned,
	waitedSeconds,
} from "../../lib/domain/dispatch";

const supplierLocation = { lat: -23.55, lng: -46.63 };
const order = { supplierId: "sup-1", cylinders: 2, supplierLocation };
/** A point `km` north of the supplier (1° of latitude ≈ 111.19 km). */
const north = (km: number) => ({ lat: supplierLocation.lat + km / 111.19, lng: supplierLocation.lng });

function courier(id: string, km: number, extra: Partial<CourierCandidate> = {}): CourierCandidate {
	return { id, status: "available", capacity: 4, load: 0, supplierId: null, position: north(km), ...extra };
}

describe("rankCouriers / nearestAvailableCourier", () => {
	it("picks the nearest available courier", () => {
		const couriers = [courier("far", 3), courier("near", 1), courier("mid", 2)];
		expect(nearestAvailableCourier(couriers, order, { radiusKm: 5 })!.id).toBe("near");
		expect(rankCouriers(couriers, order, { radiusKm: 5 }).map((c) => c.id)).toEqual(["near", "mid", "far"]);
	});

	it("prefers the supplier's own couriers over nearer independent ones", () => {
		const couriers = [courier("independent", 0.5), courier("own", 4, { supplierId: "sup-1" })];
		const ranked = rankCouriers(couriers, order, { radiusKm: 5 });
		expect(ranked.map((c) => c.id)).toEqual(["own", "independent"]);
		expect(ranked[0].ownCourier).toBe(true);
	});

	it("never offers another supplier's courier", () => {
		const couriers = [courier("other", 0.1, { supplierId: "sup-2" })];
		expect(nearestAvailableCourier(couriers, order, { radiusKm: 5 })).toBeNull();
	});

	it("skips full, offline, too small and unlocated couriers", () => {
		const couriers = [
			courier("busy", 0.1, { status: "busy", load: 3 }),
			courier("offline", 0.1, { status: "offline" }),
			courier("small", 0.1, { capacity: 1 }),
			courier("nowhere", 0.1, { position: null }),
			courier("ok", 2),
		];
		expect(rankCouriers(couriers, order, { radiusKm: 5 }).map((c) => c.id)).toEqual(["ok"]);
	});

	it("offers a busy courier an order that fits beside the ones it carries (capacity)", () => {
		const one = { ...order, cylinders: 1 };
		const carrying = courier("carrying", 0.5, { status: "busy", capacity: 2, load: 1 });
		const full = courier("full", 0.2, { status: "busy", capacity: 2, load: 2 });
		expect(rankCouriers([full, carrying], one, { radiusKm: 5 }).map((c) => c.id)).toEqual(["carrying"]);
		expect(rankCouriers([carrying], order, { radiusKm: 5 })).toEqual([]);
		expect(hasRoomFor({ status: "busy", capacity: 2, load: 1 }, 1)).toBe(true);
		expect(hasRoomFor({ status: "busy", capacity: 2, load: 1 }, 2)).toBe(false);
		expect(hasRoomFor({ status: "offline", capacity: 2, load: 0 }, 1)).toBe(false);
	});

	it("measures from the delivery point when the supplier has no location", () => {
		const noSupplierPoint = { ...order, supplierLocation: null, deliveryLocation: north(2) };
		expect(
			rankCouriers([courier("a", 2.5), courier("b", 0)], noSupplierPoint, { radiusKm: 5 }).map((c) => c.id),
		).toEqual(["a", "b"]);
		expect(rankCouriers([courier("a", 1)], { ...noSupplierPoint, deliveryLocation: null }, { radiusKm: 5 })).toEqual(
			[],
		);
	});

	it("looks only within the radius", () => {
		const couriers = [courier("six-km", 6)];
		expect(nearestAvailableCourier(couriers, order, { radiusKm: 5 })).toBeNull();
		const found = nearestAvailableCourier(couriers, order, { radiusKm: 7 });
		expect(found!.id).toBe("six-km");
		expect(found!.distanceKm).toBeCloseTo(6, 1);
	});

	it("ignores positions older than the allowed age", () => {
		const nowMs = Date.parse("2025-01-01T12:00:00Z");
		const old = courier("old", 1, { position: { ...north(1), at: "2025-01-01T11:00:00Z" } });
		const fresh = courier("fresh", 3, { position: { ...north(3), at: "2025-01-01T11:59:00Z" } });
		const ranked = rankCouriers([old, fresh], order, { radiusKm: 5, maxPositionAgeMs: 10 * 60_000, nowMs });
		expect(ranked.map((c) => c.id)).toEqual(["fresh"]);
	});
});

describe("radiusForWait", () => {
	const schedule = { initialKm: 5, growth: 2, maxKm: 30, stepMs: 1000 };
	it("starts at the initial radius and grows each step up to the maximum", () => {
		expect(radiusForWait(0, schedule)).toBe(5);
		expect(radiusForWait(999, schedule)).toBe(5);
		expect(radiusForWait(1000, schedule)).toBe(10);
		expect(radiusForWait(2500, schedule)).toBe(20);
		expect(radiusForWait(3000, schedule)).toBe(30);
		expect(radiusForWait(60_000, schedule)).toBe(30);
	});
	it("never shrinks with a growth below 1 or a negative wait", () => {
		expect(radiusForWait(5000, { ...schedule, growth: 0.5 })).toBe(5);
		expect(radiusForWait(-100, schedule)).toBe(5);
	});
});

describe("waiting and delivery times", () => {
	it("alerts once, after the configured wait", () => {
		expect(shouldAlertUnassigned(999, 1000, false)).toBe(false);
		expect(shouldAlertUnassigned(1000, 1000, false)).toBe(true);
		expect(shouldAlertUnassigned(5000, 1000, true)).toBe(false);
	});
	it("measures waited seconds and delivery minutes", () => {
		expect(waitedSeconds("2025-01-01T12:00:00Z", Date.parse("2025-01-01T12:01:30Z"))).toBe(90);
		expect(deliveryMinutes("2025-01-01T12:00:00Z", "2025-01-01T12:42:20Z")).toBe(42);
	});
});

describe("judgeLocationReport", () => {
	const rules = { maxAgeMs: 5 * 60_000, maxFutureSkewMs: 60_000 };
	const now = Date.parse("2025-01-01T12:00:00Z");
	it("accepts a newer report", () => {
		expect(judgeLocationReport("2025-01-01T11:59:59Z", "2025-01-01T11:59:50Z", rules, now)).toBe("accept");
		expect(judgeLocationReport("2025-01-01T11:59:59Z", null, rules, now)).toBe("accept");
	});
	it("ignores out-of-order and repeated reports", () => {
		expect(judgeLocationReport("2025-01-01T11:59:40Z", "2025-01-01T11:59:50Z", rules, now)).toBe("out_of_order");
		expect(judgeLocationReport("2025-01-01T11:59:50Z", "2025-01-01T11:59:50Z", rules, now)).toBe("out_of_order");
	});
	it("ignores stale reports and flags ones from the future", () => {
		expect(judgeLocationReport("2025-01-01T11:50:00Z", null, rules, now)).toBe("stale");
		expect(judgeLocationReport("2025-01-01T12:00:30Z", null, rules, now)).toBe("accept");
		expect(judgeLocationReport("2025-01-01T12:05:00Z", null, rules, now)).toBe("future");
	});
	it("recognises ISO timestamps with a zone", () => {
		expect(isIsoTimestamp("2025-01-01T12:00:00Z")).toBe(true);
		expect(isIsoTimestamp("2025-01-01T12:00:00.123-03:00")).toBe(true);
		expect(isIsoTimestamp("2025-01-01 12:00")).toBe(false);
		expect(isIsoTimestamp("2025-13-45T12:00:00Z")).toBe(false);
		expect(isIsoTimestamp("yesterday")).toBe(false);
	});
});

describe("what a courier carries", () => {
	const assignments = {
		later: { cylinders: 1, since: "2025-01-01T12:05:00Z" },
		first: { cylinders: 2, since: "2025-01-01T12:00:00Z" },
	};

	it("hands back one order: its cylinders, and idle only after the last one", () => {
		expect(releaseOf({ load: 3, assignments }, "first")).toEqual({ cylinders: 2, idle: false });
		expect(releaseOf({ load: 1, assignments: { later: assignments.later } }, "later")).toEqual({
			cylinders: 1,
			idle: true,
		});
		expect(releaseOf({ load: 3, assignments }, "unknown")).toBeNull();
	});

	it("lists the orders oldest first", () => {
		expect(carriedOrders(assignments)).toEqual(["first", "later"]);
		expect(carriedOrders({})).toEqual([]);
	});

	it("finds orders held too long without a dispatch naming the courier", () => {
		const nowMs = Date.parse("2025-01-01T12:06:00Z");
		expect(orphanedOrders(assignments, () => false, 120_000, nowMs)).toEqual(["first"]);
		expect(orphanedOrders(assignments, (id) => id === "first", 120_000, nowMs)).toEqual([]);
		expect(orphanedOrders(assignments, () => false, 0, nowMs).sort()).toEqual(["first", "later"]);
	});
});
