import {
	cylinderCount,
	deliveryFeeCents,
	orderLines,
	orderTotals,
	priceWithoutExchangeCents,
	PricedProduct,
} from "../../lib/domain/pricing";

const p13: PricedProduct = { productId: "p13", type: "P13", priceCents: 11000, depositCents: 15000 };
const p45: PricedProduct = { productId: "p45", type: "P45", priceCents: 42000, depositCents: 60000 };

describe("pricing", () => {
	it("charges the base delivery fee within the included kilometres, then per started km", () => {
		expect(deliveryFeeCents(0)).toBe(500);
		expect(deliveryFeeCents(3)).toBe(500);
		expect(deliveryFeeCents(3.01)).toBe(650);
		expect(deliveryFeeCents(5.5)).toBe(500 + 3 * 150);
		expect(deliveryFeeCents(10, { baseCents: 0, includedKm: 0, perKmCents: 100 })).toBe(1000);
	});

	it("adds the deposit only for cylinders bought without an exchange", () => {
		const lines = orderLines(
			[p13, p45],
			[
				{ productId: "p13", quantity: 2, exchange: true },
				{ productId: "p45", quantity: 1, exchange: false },
			],
		);
		expect(lines[0]).toMatchObject({ unitPriceCents: 11000, depositCents: 0, lineCents: 22000 });
		expect(lines[1]).toMatchObject({ unitPriceCents: 42000, depositCents: 60000, lineCents: 102000 });
		expect(orderTotals(lines, 4)).toEqual({
			itemsCents: 22000 + 42000,
			depositsCents: 60000,
			deliveryFeeCents: 650,
			totalCents: 22000 + 42000 + 60000 + 650,
		});
		expect(cylinderCount(lines)).toBe(3);
	});

	it("refuses an item with no catalog price", () => {
		expect(() => orderLines([p13], [{ productId: "nope", quantity: 1, exchange: true }])).toThrow(/No price/);
	});

	it("prices a cylinder without exchange as price plus deposit", () => {
		expect(priceWithoutExchangeCents(p13)).toBe(26000);
	});

	it("keeps totals in integer cents", () => {
		const lines = orderLines([p13], [{ productId: "p13", quantity: 3, exchange: true }]);
		const totals = orderTotals(lines, 7.3);
		for (const v of Object.values(totals)) expect(Number.isInteger(v)).toBe(true);
	});
});
