import {
	bucketCount,
	bucketFigures,
	bucketStart,
	bucketStarts,
	Fact,
	factFromEvent,
	figuresOf,
	percentile,
	reportTable,
	summarize,
} from "../../lib/domain/metrics-buckets";

const env = (
	type: string,
	data: Record<string, any>,
	id = `${type}-${Math.random()}`,
	time = "2030-01-01T10:15:00.000Z",
) => ({
	id,
	type,
	time,
	data,
});

describe("metrics-buckets", () => {
	it("buckets UTC hours and days", () => {
		expect(bucketStart("2030-01-01T10:59:59.999Z", "hour")).toBe("2030-01-01T10:00:00.000Z");
		expect(bucketStart("2030-01-01T23:59:59.999Z", "day")).toBe("2030-01-01T00:00:00.000Z");
		expect(bucketStarts("2030-01-01T10:30:00Z", "2030-01-01T13:00:00Z", "hour")).toEqual([
			"2030-01-01T10:00:00.000Z",
			"2030-01-01T11:00:00.000Z",
			"2030-01-01T12:00:00.000Z",
		]);
		expect(bucketCount("2030-01-01T00:00:00Z", "2030-01-08T00:00:00Z", "day")).toBe(7);
	});

	it("computes nearest-rank percentiles and summaries", () => {
		const values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
		expect(percentile(values, 50)).toBe(50);
		expect(percentile(values, 90)).toBe(90);
		expect(percentile(values, 95)).toBe(100);
		expect(percentile([7], 99)).toBe(7);
		expect(percentile([], 50)).toBeNull();
		expect(summarize([30, 10, 20])).toEqual({ count: 3, mean: 20, p50: 20, p90: 30, p95: 30, max: 30 });
		expect(summarize([]).mean).toBeNull();
	});

	it("turns events into facts; events that move no figure give none", () => {
		expect(factFromEvent(env("order.created", { orderId: "o", supplierId: "s" }))).toMatchObject({
			order: "created",
			supplierId: "s",
		});
		expect(factFromEvent(env("payment.processed", { amountCents: 500, status: "authorized" }))).toBeNull();
		expect(factFromEvent(env("payment.processed", { amountCents: 500, status: "captured" }))).toMatchObject({
			revenueCents: 500,
		});
		expect(factFromEvent(env("product.updated", {}))).toBeNull();
		const delivered = factFromEvent(
			env("order.delivered", {
				orderId: "o",
				confirmedAt: "2030-01-01T10:00:00Z",
				deliveredAt: "2030-01-01T10:45:30Z",
				promisedBy: "2030-01-01T10:40:00Z",
				courierId: "k",
			}),
		)!;
		expect(delivered).toMatchObject({
			at: "2030-01-01T10:45:30.000Z",
			deliveryMinutes: 45.5,
			late: true,
			courierId: "k",
		});
		expect(factFromEvent(env("user.created", { role: "courier" }))).toMatchObject({ newUserRole: "courier" });
	});

	it("counts a fact seen twice once", () => {
		const fact = factFromEvent(env("order.created", { supplierId: "s" }, "same-id"))!;
		const revenue = factFromEvent(env("payment.processed", { amountCents: 700, status: "captured" }, "pay"))!;
		const figures = figuresOf([fact, fact, revenue, revenue]);
		expect(figures.ordersCreated).toBe(1);
		expect(figures.revenueCents).toBe(700);
	});

	it("fills dense buckets and totals only what is in range", () => {
		const facts: Fact[] = [
			factFromEvent(env("order.created", {}, "a", "2030-01-01T10:05:00Z"))!,
			factFromEvent(env("order.created", {}, "b", "2030-01-01T12:59:00Z"))!,
			factFromEvent(env("order.created", {}, "c", "2030-01-01T13:00:00Z"))!,
			factFromEvent(env("courier.assigned", { courierId: "k1", waitedSeconds: 40 }, "d", "2030-01-01T10:10:00Z"))!,
			factFromEvent(env("delivery.completed", { courierId: "k1" }, "e", "2030-01-01T10:50:00Z"))!,
		];
		const result = bucketFigures(facts, "2030-01-01T10:00:00.000Z", "2030-01-01T13:00:00.000Z", "hour");
		expect(result.buckets.map((b) => b.ordersCreated)).toEqual([1, 0, 1]);
		expect(result.buckets[0].activeCouriers).toBe(1);
		expect(result.buckets[0].assignSeconds.mean).toBe(40);
		expect(result.totals.ordersCreated).toBe(2);
	});

	it("builds report tables: sales by supplier, delivery performance, cancellations", () => {
		const facts = [
			factFromEvent(env("order.created", { supplierId: "s1" }))!,
			factFromEvent(env("order.created", { supplierId: "s2" }))!,
			factFromEvent(env("payment.processed", { supplierId: "s2", amountCents: 900, status: "captured" }))!,
			factFromEvent(env("order.cancelled", { supplierId: "s1", reason: "late" }))!,
			factFromEvent(env("order.cancelled", { supplierId: "s1", reason: "late" }))!,
			factFromEvent(env("user.created", { role: "customer" }))!,
		];
		const sales = reportTable("sales_by_supplier", facts);
		expect(sales.rows.map((r) => r.supplierId)).toEqual(["s2", "s1"]);
		expect(sales.rows[0]).toMatchObject({ revenueCents: 900, ordersCreated: 1 });
		expect(reportTable("cancellations", facts).rows).toEqual([{ supplierId: "s1", reason: "late", cancellations: 2 }]);
		expect(reportTable("delivery_performance", facts).rows).toEqual([]);
	});
});
