import {
	deliversTo,
	findOffers,
	isOpenAt,
	localMinutes,
	newProduct,
	newReservation,
	offerView,
	SupplierProfile,
} from "../../lib/domain/catalog";
import { DEFAULT_LOW_STOCK_THRESHOLD } from "../../lib/domain/stock";

const home = { lat: -23.5505, lng: -46.6333 };
const near: SupplierProfile = {
	supplierId: "near",
	name: "Near Gás",
	location: { lat: -23.56, lng: -46.64 }, // ~1.3 km
	deliveryRadiusKm: 5,
	openingHours: { open: "08:00", close: "18:00" },
	rating: 4.5,
};
const far: SupplierProfile = {
	supplierId: "far",
	name: "Far Gás",
	location: { lat: -23.6, lng: -46.7 }, // ~8.7 km
	deliveryRadiusKm: 15,
	openingHours: { open: "00:00", close: "23:59" },
	rating: 4,
};
const tiny: SupplierProfile = {
	...near,
	supplierId: "tiny",
	location: { lat: -23.6, lng: -46.7 },
	deliveryRadiusKm: 2,
};
const noon = new Date("2024-06-03T15:00:00Z"); // 12:00 in São Paulo
const night = new Date("2024-06-04T02:00:00Z"); // 23:00 in São Paulo

const products = [
	{ id: "a", supplierId: "near", type: "P13", priceCents: 12000, depositCents: 15000, stock: 4 },
	{ id: "b", supplierId: "far", type: "P13", priceCents: 10000, depositCents: 15000, stock: 9 },
	{ id: "c", supplierId: "tiny", type: "P13", priceCents: 9000, depositCents: 15000, stock: 9 },
	{ id: "d", supplierId: "near", type: "P45", priceCents: 40000, depositCents: 50000, stock: 0 },
	{ id: "e", supplierId: "ghost", type: "P13", priceCents: 100, depositCents: 0, stock: 9 },
];

describe("catalog", () => {
	it("reads local time in the supplier's zone", () => {
		expect(localMinutes(noon)).toBe(12 * 60);
		expect(localMinutes(noon, "UTC")).toBe(15 * 60);
	});

	it("knows opening hours, including ranges past midnight", () => {
		expect(isOpenAt({ open: "08:00", close: "18:00" }, noon)).toBe(true);
		expect(isOpenAt({ open: "08:00", close: "18:00" }, night)).toBe(false);
		expect(isOpenAt({ open: "22:00", close: "06:00" }, night)).toBe(true);
		expect(isOpenAt({ open: "22:00", close: "06:00" }, noon)).toBe(false);
		expect(isOpenAt({ open: "00:00", close: "23:59" }, night)).toBe(true);
	});

	it("delivers only within the radius", () => {
		expect(deliversTo(near, home)).toBe(true);
		expect(deliversTo(tiny, home)).toBe(false);
		expect(deliversTo({ ...near, location: null }, home)).toBe(false);
	});

	it("compares prices for an address: only suppliers that deliver there, cheapest delivered price first", () => {
		const offers = findOffers(products, [near, far, tiny], {
			type: "P13",
			deliverTo: home,
			openAt: noon,
			inStockOnly: true,
		});
		expect(offers.map((o) => o.product.id)).toEqual(["b", "a"]);
		// far: 10000 + fee for ~8.7 km (500 + 6×150); near: 12000 + 500
		expect(offers[0].deliveryFeeCents).toBe(1400);
		expect(offers[1].deliveryFeeCents).toBe(500);
	});

	it("sorts by distance when asked", () => {
		const offers = findOffers(products, [near, far, tiny], { type: "P13", deliverTo: home, sort: "distance" });
		expect(offers.map((o) => o.product.id)).toEqual(["a", "b"]);
		expect(offers[0].distanceKm!).toBeLessThan(offers[1].distanceKm!);
	});

	it("leaves out closed suppliers, unknown suppliers and products out of stock", () => {
		const offers = findOffers(products, [near, far, tiny], { deliverTo: home, openAt: night, inStockOnly: true });
		expect(offers.map((o) => o.product.id)).toEqual(["b"]);
		const all = findOffers(products, [near, far, tiny], {});
		expect(all.map((o) => o.product.id).sort()).toEqual(["a", "b", "c", "d"]);
		const inactive = findOffers(products, [{ ...far, active: false }, near], { type: "P13" });
		expect(inactive.map((o) => o.product.id)).toEqual(["a"]);
	});

	it("shows the price without exchange and the supplier in the offer view", () => {
		const [offer] = findOffers(products, [near], { type: "P13", deliverTo: home });
		expect(offerView(offer)).toMatchObject({
			id: "a",
			priceWithoutExchangeCents: 27000,
			supplier: { id: "near", name: "Near Gás" },
			deliveryFeeCents: 500,
		});
	});
});

describe("new catalog records", () => {
	const listing = {
		_id: "s1",
		supplierId: "s1",
		name: "Gás Bom",
		anpAuthorization: null,
		location: { lat: -23.55, lng: -46.63 },
		deliveryRadiusKm: 5,
		openingHours: { open: "08:00", close: "18:00" },
		rating: 4.5,
		active: true,
		updatedAt: "2026-01-01T00:00:00.000Z",
	};

	it("newProduct: live, owned by the decided supplier, one per supplier and type, defaults filled", () => {
		const p = newProduct({ type: "P13", priceCents: 11000, stock: 7 }, "s1", "p1", "2026-01-02T00:00:00.000Z");
		expect(p).toEqual({
			_id: "p1",
			supplierId: "s1",
			supplierType: "s1:P13",
			type: "P13",
			priceCents: 11000,
			depositCents: 0,
			stock: 7,
			reserved: 0,
			lowStockThreshold: DEFAULT_LOW_STOCK_THRESHOLD,
			active: true,
			createdAt: "2026-01-02T00:00:00.000Z",
			updatedAt: "2026-01-02T00:00:00.000Z",
		});
		expect(
			newProduct({ type: "P45", priceCents: 1, stock: 0, depositCents: 300, lowStockThreshold: 1 }, "s2", "p2", "t"),
		).toMatchObject({ depositCents: 300, lowStockThreshold: 1, supplierType: "s2:P45" });
	});

	it("newReservation: `reserving`, keyed by the order, expiring after the TTL, at the products' prices", () => {
		const product = newProduct({ type: "P13", priceCents: 11000, stock: 7, depositCents: 5000 }, "s1", "p1", "t");
		const now = new Date("2026-01-02T10:00:00.000Z");
		const r = newReservation({
			orderId: "o1",
			supplier: listing,
			items: [{ productId: "p1", quantity: 2 }],
			products: [product],
			distanceKm: 1.5,
			now,
			ttlMs: 15 * 60_000,
		});
		expect(r).toMatchObject({
			_id: "o1",
			orderId: "o1",
			supplierId: "s1",
			state: "reserving",
			expiresAt: "2026-01-02T10:15:00.000Z",
			distanceKm: 1.5,
			items: [{ productId: "p1", quantity: 2 }],
			products: [{ productId: "p1", type: "P13", priceCents: 11000, depositCents: 5000, name: null }],
			supplier: { supplierId: "s1", name: "Gás Bom" },
			createdAt: now.toISOString(),
		});
	});
});
