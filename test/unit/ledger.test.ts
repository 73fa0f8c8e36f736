/** The money rules of lib/domain/ledger.ts: rounding, splits, reversals, statements that balance to the cent. */
import {
	balances,
	courierFeeCents,
	dayRange,
	payoutLines,
	percentOf,
	previousDay,
	reversalSplit,
	saleSplit,
	shareOf,
	statement,
	sumSplits,
	EntryLike,
} from "../../lib/domain/ledger";

describe("rounding", () => {
	test("percentOf rounds half up, symmetric for negatives", () => {
		expect(percentOf(1000, 1000)).toBe(100);
		expect(percentOf(5, 1000)).toBe(1); // 0.5 → 1
		expect(percentOf(4, 1000)).toBe(0); // 0.4 → 0
		expect(percentOf(-5, 1000)).toBe(-1);
		expect(percentOf(12345, 1250)).toBe(1543); // 1543.125
		expect(percentOf(12347, 1250)).toBe(1543); // 1543.375
		expect(percentOf(12348, 1250)).toBe(1544); // 1543.5
		expect(() => percentOf(10.5, 100)).toThrow();
	});

	test("shareOf rounds half up", () => {
		expect(shareOf(100, 1, 3)).toBe(33);
		expect(shareOf(100, 2, 3)).toBe(67);
		expect(shareOf(1, 1, 2)).toBe(1);
		expect(shareOf(5, 0, 0)).toBe(0);
	});

	test("courier fee: base plus per km, rounded once on the distance in metres", () => {
		const rule = { baseCents: 500, perKmCents: 150 };
		expect(courierFeeCents(0, rule)).toBe(500);
		expect(courierFeeCents(2, rule)).toBe(800);
		expect(courierFeeCents(2.675, rule)).toBe(901); // 401.25
		expect(courierFeeCents(1.003, rule)).toBe(650); // 150.45
		expect(courierFeeCents(-3, rule)).toBe(500);
		expect(courierFeeCents(Number.NaN, rule)).toBe(500);
	});
});

describe("sale split", () => {
	test("commission first, courier fee capped by what is left, supplier gets the rest", () => {
		expect(saleSplit(13_099, 1000, 750)).toEqual({
			grossCents: 13_099,
			commissionCents: 1310,
			courierFeeCents: 750,
			supplierNetCents: 11_039,
		});
		expect(saleSplit(500, 2000, 800)).toEqual({
			grossCents: 500,
			commissionCents: 100,
			courierFeeCents: 400,
			supplierNetCents: 0,
		});
		expect(saleSplit(1000, 0, null)).toMatchObject({ courierFeeCents: 0, supplierNetCents: 1000 });
	});

	test("refuses amounts that are not integer cents or rates out of range", () => {
		expect(() => saleSplit(10.5, 1000, 0)).toThrow();
		expect(() => saleSplit(-1, 1000, 0)).toThrow();
		expect(() => saleSplit(100, 10_001, 0)).toThrow();
		expect(() => saleSplit(100, 12.5, 0)).toThrow();
	});
});

describe("reversals", () => {
	const sale = saleSplit(13_333, 1250, 777);

	test("a full refund reverses the sale exactly", () => {
		const r = reversalSplit(sale, 0, sale.grossCents);
		expect(r).toEqual({
			grossCents: -sale.grossCents,
			commissionCents: -sale.commissionCents,
			courierFeeCents: -sale.courierFeeCents,
			supplierNetCents: -sale.supplierNetCents,
		});
	});

	test("partial refunds in awkward pieces add up to the full reversal, each balanced", () => {
		const pieces = [1, 333, 4999, 7, 2000, 13_333 - 1 - 333 - 4999 - 7 - 2000];
		let refunded = 0;
		const reversals = pieces.map((p) => {
			const r = reversalSplit(sale, refunded, p);
			refunded += p;
			expect(balances(r)).toBe(true);
			expect(r.grossCents).toBe(-p);
			return r;
		});
		expect(sumSplits([sale, ...reversals])).toEqual({
			grossCents: 0,
			commissionCents: 0,
			courierFeeCents: 0,
			supplierNetCents: 0,
		});
	});

	test("refunds beyond the gross reverse nothing more", () => {
		const r = reversalSplit(sale, sale.grossCents, 500);
		expect(r).toEqual({ grossCents: 0, commissionCents: 0, courierFeeCents: 0, supplierNetCents: 0 });
	});
});

describe("statements", () => {
	// A deterministic pseudo-random sequence: awkward amounts, rates and distances.
	let seed = 42;
	const next = (n: number) => {
		seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
		return seed % n;
	};

	test("a statement of many orders with awkward amounts balances to the cent", () => {
		const entries: EntryLike[] = [];
		for (let i = 0; i < 2000; i++) {
			const gross = 1 + next(40_000);
			const bps = next(3001);
			const fee = courierFeeCents(next(25_000) / 1000, { baseCents: 499, perKmCents: 137 });
			const sale = saleSplit(gross, bps, i % 7 === 0 ? null : fee);
			const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
			const supplierId = i % 3 === 0 ? "s1" : "s2";
			const courierId = i % 7 === 0 ? undefined : `c${i % 4}`;
			entries.push({ ...sale, orderId: `o${i}`, kind: "sale", at, supplierId, courierId });
			if (i % 5 === 0) {
				const refund = 1 + next(gross);
				entries.push({
					...reversalSplit(sale, 0, refund),
					orderId: `o${i}`,
					kind: "reversal",
					at,
					supplierId,
					courierId,
				});
			}
		}
		const s1 = statement("supplier", "s1", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", entries);
		const s2 = statement("supplier", "s2", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", entries);
		for (const s of [s1, s2]) {
			expect(s.balanced).toBe(true);
			const sum = (key: string) => s.rows.reduce((n, r) => n + (r[key] as number), 0);
			expect(sum("grossCents")).toBe(s.totals.grossCents);
			expect(s.totals.grossCents).toBe(s.totals.commissionCents + s.totals.courierFeeCents + s.totals.supplierNetCents);
			expect(s.totals.amountDueCents).toBe(s.totals.supplierNetCents);
			expect(s.totals.unpaidCents).toBe(s.totals.amountDueCents);
		}
		expect(s1.totals.entries + s2.totals.entries).toBe(entries.length);
		// Platform-wide: what customers paid = what the platform, the couriers and the suppliers get.
		const all = sumSplits(entries);
		const couriers = payoutLines("courier", entries).reduce((n, l) => n + l.amountCents, 0);
		const suppliers = payoutLines("supplier", entries).reduce((n, l) => n + l.amountCents, 0);
		expect(all.commissionCents + couriers + suppliers).toBe(all.grossCents);
	});

	test("a courier statement shows only the courier's fees; paid entries count as paid", () => {
		const base = { kind: "sale" as const, supplierId: "s1", at: "2026-01-01T10:00:00.000Z" };
		const entries: EntryLike[] = [
			{ ...base, ...saleSplit(10_000, 1000, 800), orderId: "a", courierId: "c1", courierPayoutId: "run-1" },
			{ ...base, ...saleSplit(5_000, 1000, 650), orderId: "b", courierId: "c1" },
			{ ...base, ...saleSplit(5_000, 1000, 650), orderId: "c", courierId: "c2" },
		];
		const s = statement("courier", "c1", "x", "y", entries);
		expect(s.rows.map((r) => r.orderId)).toEqual(["a", "b"]);
		expect(s.totals).toMatchObject({ amountDueCents: 1450, paidCents: 800, unpaidCents: 650 });
	});
});

describe("days", () => {
	test("dayRange is one UTC day; impossible days are refused", () => {
		expect(dayRange("2026-03-01")).toEqual({ from: "2026-03-01T00:00:00.000Z", to: "2026-03-02T00:00:00.000Z" });
		expect(dayRange("2026-02-30")).toBeNull();
		expect(dayRange("yesterday")).toBeNull();
		expect(previousDay(new Date("2026-03-01T00:30:00Z"))).toBe("2026-02-28");
	});
});
