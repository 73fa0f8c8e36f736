import { haversineKm, etaMinutes, etaMinutesBetween, addMinutesIso, isValidLatLng } from "../../lib/domain/geo";

describe("geo", () => {
	const saoPaulo = { lat: -23.5505, lng: -46.6333 };
	const rio = { lat: -22.9068, lng: -43.1729 };

	it("measures São Paulo → Rio at about 360 km", () => {
		const km = haversineKm(saoPaulo, rio);
		expect(km).toBeGreaterThan(355);
		expect(km).toBeLessThan(365);
	});

	it("is zero for the same point and symmetric", () => {
		expect(haversineKm(saoPaulo, saoPaulo)).toBe(0);
		expect(haversineKm(saoPaulo, rio)).toBeCloseTo(haversineKm(rio, saoPaulo), 9);
	});

	it("one degree of latitude is about 111 km", () => {
		expect(haversineKm({ lat: 0, lng: 0 }, { lat: 1, lng: 0 })).toBeCloseTo(111.19, 1);
	});

	it("computes ETAs in whole minutes, at least one", () => {
		expect(etaMinutes(0)).toBe(1);
		expect(etaMinutes(25, 25)).toBe(60);
		expect(etaMinutes(10, 30)).toBe(20);
		expect(etaMinutes(10, 0)).toBe(24);
		expect(etaMinutesBetween({ lat: 0, lng: 0 }, { lat: 0.1, lng: 0 }, 20)).toBe(34);
	});

	it("adds minutes to an ISO time", () => {
		expect(addMinutesIso("2024-01-01T10:00:00.000Z", 90)).toBe("2024-01-01T11:30:00.000Z");
	});

	it("validates coordinates", () => {
		expect(isValidLatLng(saoPaulo)).toBe(true);
		expect(isValidLatLng({ lat: 91, lng: 0 })).toBe(false);
		expect(isValidLatLng({ lat: NaN, lng: 0 })).toBe(false);
	});
});
