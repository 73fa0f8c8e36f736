/** Ratings (lib/domain/reviews.ts), the low-rating alert (alert-rules), brands and the catalog's rating sort. */
import { averageRating, isLowRating, reviewProblem } from "../../lib/domain/reviews";
import { lowRatingRaise } from "../../lib/domain/alert-rules";
import { brandOf, isBrand } from "../../lib/domain/brands";
import { findOffers, SupplierProfile } from "../../lib/domain/catalog";

const order = { orderId: "o1", status: "delivered", customerId: "c1", supplierId: "s1", courierId: "k1" };
const me = { id: "c1", role: "customer" };

test("only the order's customer rates, once it is delivered, a courier only if there was one", () => {
	expect(reviewProblem(order, me, { supplierRating: 5 })).toBeNull();
	expect(reviewProblem(null, me, { supplierRating: 5 })?.code).toBe(404);
	expect(reviewProblem(order, { id: "c2", role: "customer" }, { supplierRating: 5 })?.code).toBe(403);
	expect(reviewProblem(order, { id: "c1", role: "admin" }, { supplierRating: 5 })?.code).toBe(403);
	expect(reviewProblem({ ...order, status: "in_transit" }, me, { supplierRating: 5 })?.type).toBe("NOT_DELIVERED");
	expect(reviewProblem({ ...order, courierId: null }, me, { supplierRating: 5, courierRating: 3 })?.code).toBe(422);
});

test("low ratings and averages", () => {
	expect(isLowRating({ supplierRating: 5, courierRating: 2 })).toBe(true);
	expect(isLowRating({ supplierRating: 3, courierRating: null })).toBe(false);
	expect(averageRating(14, 3)).toBe(4.67);
	expect(averageRating(0, 0)).toBeNull();
	const d = { orderId: "o1", supplierId: "s1", courierId: "k1", supplierRating: 4, courierRating: 2 };
	expect(lowRatingRaise(d)).toMatchObject({
		rule: "low_rating",
		subject: "o1",
		summary: expect.stringContaining("courier k1 2/5"),
	});
	expect(lowRatingRaise(d, 1)).toBeNull();
	expect(lowRatingRaise({ ...d, courierRating: null })).toBeNull();
});

test("brands: known ones kept, anything else reads as other", () => {
	expect(brandOf({ brand: "ultragaz" })).toBe("ultragaz");
	expect(brandOf({})).toBe("other");
	expect(brandOf({ brand: "acme" })).toBe("other");
	expect(isBrand("nacional_gas")).toBe(true);
});

test("the catalog sorted by rating: best first, unrated last, then by count and price; filtered by brand", () => {
	const supplier = (id: string, rating: number, ratingCount: number): SupplierProfile => ({
		supplierId: id,
		name: id,
		location: null,
		deliveryRadiusKm: 10,
		openingHours: { open: "00:00", close: "23:59" },
		rating,
		ratingCount,
	});
	const suppliers = [supplier("a", 5, 0), supplier("b", 4.5, 10), supplier("c", 4.5, 20), supplier("d", 3, 1)];
	const product = (id: string, supplierId: string, priceCents: number, brand?: string) => ({
		id,
		supplierId,
		type: "P13",
		priceCents,
		depositCents: 0,
		stock: 1,
		...(brand ? { brand } : {}),
	});
	const products = [
		product("pa", "a", 100),
		product("pb", "b", 90, "copagaz"),
		product("pc", "c", 120),
		product("pd", "d", 80),
	];
	expect(findOffers(products, suppliers, { sort: "rating" }).map((o) => o.product.id)).toEqual([
		"pc",
		"pb",
		"pd",
		"pa",
	]);
	expect(findOffers(products, suppliers, { brand: "copagaz" }).map((o) => o.product.id)).toEqual(["pb"]);
	expect(findOffers(products, suppliers, { brand: "other" }).map((o) => o.product.id)).toEqual(["pd", "pa", "pc"]);
});
