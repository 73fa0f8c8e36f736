import {
	courierEtaMinutes,
	etaMinutesForDistance,
	etaViaPickupMinutes,
	MAX_TRAVEL_SPEED_KMH,
	planningSpeedKmh,
	ROUTE_FACTOR,
} from "../../lib/domain/eta";
import { DEFAULT_COURIER_SPEED_KMH, haversineKm } from "../../lib/domain/geo";

describe("eta", () => {
	const paulista = { lat: -23.5614, lng: -46.6559 };
	const se = { lat: -23.5503, lng: -46.6339 };

	it("plans with the reported speed when the courier is travelling", () => {
		expect(planningSpeedKmh(10)).toBeCloseTo(36, 9);
	});

	it("falls back to the urban default when stopped, unknown or not a number", () => {
		expect(planningSpeedKmh(0)).toBe(DEFAULT_COURIER_SPEED_KMH);
		expect(planningSpeedKmh(1)).toBe(DEFAULT_COURIER_SPEED_KMH);
		expect(planningSpeedKmh(undefined)).toBe(DEFAULT_COURIER_SPEED_KMH);
		expect(planningSpeedKmh(null)).toBe(DEFAULT_COURIER_SPEED_KMH);
		expect(planningSpeedKmh(NaN)).toBe(DEFAULT_COURIER_SPEED_KMH);
	});

	it("caps implausible GPS speeds", () => {
		expect(planningSpeedKmh(100)).toBe(MAX_TRAVEL_SPEED_KMH);
	});

	it("stretches the straight line to a route and rounds up to whole minutes, at least 1", () => {
		expect(etaMinutesForDistance(10, 30)).toBe(Math.ceil(((10 * ROUTE_FACTOR) / 30) * 60));
		expect(etaMinutesForDistance(10, 30)).toBe(26);
		expect(etaMinutesForDistance(0, 30)).toBe(1);
		expect(etaMinutesForDistance(10, 0)).toBe(etaMinutesForDistance(10, DEFAULT_COURIER_SPEED_KMH));
	});

	it("is shorter at a higher reported speed and grows with distance", () => {
		const slow = courierEtaMinutes(paulista, se, 0);
		const fast = courierEtaMinutes(paulista, se, 15);
		expect(fast).toBeLessThan(slow);
		const far = { lat: -23.65, lng: -46.75 };
		expect(courierEtaMinutes(paulista, far)).toBeGreaterThan(courierEtaMinutes(paulista, se));
	});

	it("adds the pickup leg for a courier not yet at the supplier", () => {
		const courier = { lat: -23.6, lng: -46.7 };
		const km = haversineKm(courier, paulista) + haversineKm(paulista, se);
		expect(etaViaPickupMinutes(courier, paulista, se)).toBe(etaMinutesForDistance(km, DEFAULT_COURIER_SPEED_KMH));
		expect(etaViaPickupMinutes(courier, paulista, se)).toBeGreaterThan(courierEtaMinutes(paulista, se));
	});
});
