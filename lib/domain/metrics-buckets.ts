/**
 * Business figures from the event stream. Each business event becomes at most one Fact, keyed by
 * the event's id (so storing facts under that key makes counting idempotent); figures are
 * aggregated from facts into UTC hour or day buckets, with means and percentiles.
 */

export type Granularity = "hour" | "day";
export const GRANULARITIES: Granularity[] = ["hour", "day"];
export type OrderStage = "created" | "confirmed" | "delivered" | "cancelled";

export interface Fact {
	eventId: string;
	type: string;
	/** When it happened (UTC ISO). */
	at: string;
	supplierId: string | null;
	orderId?: string | null;
	order?: OrderStage;
	revenueCents?: number;
	refundsCents?: number;
	deliveryMinutes?: number;
	late?: boolean;
	assignSeconds?: number;
	courierId?: string | null;
	newUserRole?: string;
	cancelReason?: string;
}

interface EnvelopeLike {
	id: string;
	type: string;
	time: string;
	data: object;
}

/** The event types that become facts (analytics subscribes to these only). */
export const FACT_EVENTS = [
	"order.created",
	"order.confirmed",
	"order.delivered",
	"order.cancelled",
	"payment.processed",
	"refund.processed",
	"courier.assigned",
	"delivery.completed",
	"user.created",
] as const;

const str = (value: unknown): string | null => (typeof value === "string" && value ? value : null);

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

function validTime(value: unknown): string | null {
	if (typeof value !== "string") return null;
	const ms = Date.parse(value);
	return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function cents(value: unknown): number {
	return typeof value === "number" && Number.isFinite(value) ? Math.round(value) : 0;
}

function minutesBetween(from: string | null, to: string | null): number | undefined {
	if (!from || !to) return undefined;
	const minutes = (Date.parse(to) - Date.parse(from)) / MINUTE_MS;
	return minutes >= 0 ? Math.round(minutes * 100) / 100 : undefined;
}

function deliveredFact(base: Fact, d: Record<string, unknown>): Fact {
	const deliveredAt = validTime(d.deliveredAt) || base.at;
	const promisedBy = validTime(d.promisedBy);
	return {
		...base,
		at: deliveredAt,
		order: "delivered",
		courierId: str(d.courierId),
		deliveryMinutes: minutesBetween(validTime(d.confirmedAt), deliveredAt),
		late: promisedBy ? Date.parse(deliveredAt) > Date.parse(promisedBy) : false,
	};
}

/** The fact an event contributes to the figures, or null when it contributes none. */
export function factFromEvent(envelope: EnvelopeLike): Fact | null {
	const d = (envelope.data || {}) as Record<string, unknown>;
	const base: Fact = {
		eventId: envelope.id,
		type: envelope.type,
		at: validTime(envelope.time) || new Date().toISOString(),
		supplierId: str(d.supplierId),
		orderId: str(d.orderId),
	};
	switch (envelope.type) {
		case "order.created":
			return { ...base, order: "created" };
		case "order.confirmed":
			return { ...base, order: "confirmed" };
		case "order.delivered":
			return deliveredFact(base, d);
		case "order.cancelled":
			return { ...base, order: "cancelled", cancelReason: String(d.reason || "unspecified").slice(0, 200) };
		case "payment.processed":
			return d.status === "captured" ? { ...base, revenueCents: cents(d.amountCents) } : null;
		case "refund.processed":
			return { ...base, refundsCents: cents(d.amountCents) };
		case "courier.assigned":
			return {
				...base,
				courierId: str(d.courierId),
				assignSeconds: typeof d.waitedSeconds === "number" && d.waitedSeconds >= 0 ? d.waitedSeconds : undefined,
			};
		case "delivery.completed":
			return { ...base, courierId: str(d.courierId) };
		case "user.created":
			return { ...base, newUserRole: String(d.role || "unknown") };
		default:
			return null;
	}
}

export function bucketStart(at: string | number, granularity: Granularity): string {
	const ms = typeof at === "number" ? at : Date.parse(at);
	const size = granularity === "hour" ? HOUR_MS : DAY_MS;
	return new Date(Math.floor(ms / size) * size).toISOString();
}

/** Start of every bucket overlapping [from, to), in order. */
export function bucketStarts(from: string, to: string, granularity: Granularity): string[] {
	const size = granularity === "hour" ? HOUR_MS : DAY_MS;
	const starts: string[] = [];
	for (let ms = Date.parse(bucketStart(from, granularity)); ms < Date.parse(to); ms += size)
		starts.push(new Date(ms).toISOString());
	return starts;
}

/** Nearest-rank percentile (p in 0..100) of the values; null for none. */
export function percentile(values: number[], p: number): number | null {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
	return sorted[Math.min(rank, sorted.length) - 1];
}

export interface Summary {
	count: number;
	mean: number | null;
	p50: number | null;
	p90: number | null;
	p95: number | null;
	max: number | null;
}

export function summarize(values: number[]): Summary {
	if (values.length === 0) return { count: 0, mean: null, p50: null, p90: null, p95: null, max: null };
	const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
	return {
		count: values.length,
		mean: Math.round(mean * 100) / 100,
		p50: percentile(values, 50),
		p90: percentile(values, 90),
		p95: percentile(values, 95),
		max: Math.max(...values),
	};
}

export interface Figures {
	ordersCreated: number;
	ordersConfirmed: number;
	ordersDelivered: number;
	ordersCancelled: number;
	revenueCents: number;
	refundsCents: number;
	netRevenueCents: number;
	lateDeliveries: number;
	deliveryMinutes: Summary;
	assignSeconds: Summary;
	activeCouriers: number;
	newUsers: Record<string, number>;
}

/** Figures of a set of facts; a fact seen twice (same event id) counts once. */
export function figuresOf(facts: Fact[]): Figures {
	const seen = new Set<string>();
	const stages: Record<OrderStage, number> = { created: 0, confirmed: 0, delivered: 0, cancelled: 0 };
	const deliveryMinutes: number[] = [];
	const assignSeconds: number[] = [];
	const couriers = new Set<string>();
	const newUsers: Record<string, number> = {};
	let revenueCents = 0;
	let refundsCents = 0;
	let lateDeliveries = 0;
	for (const fact of facts) {
		if (seen.has(fact.eventId)) continue;
		seen.add(fact.eventId);
		if (fact.order) stages[fact.order]++;
		revenueCents += fact.revenueCents || 0;
		refundsCents += fact.refundsCents || 0;
		if (fact.deliveryMinutes !== undefined) deliveryMinutes.push(fact.deliveryMinutes);
		if (fact.late) lateDeliveries++;
		if (fact.assignSeconds !== undefined) assignSeconds.push(fact.assignSeconds);
		if (fact.courierId) couriers.add(fact.courierId);
		if (fact.newUserRole) newUsers[fact.newUserRole] = (newUsers[fact.newUserRole] || 0) + 1;
	}
	return {
		ordersCreated: stages.created,
		ordersConfirmed: stages.confirmed,
		ordersDelivered: stages.delivered,
		ordersCancelled: stages.cancelled,
		revenueCents,
		refundsCents,
		netRevenueCents: revenueCents - refundsCents,
		lateDeliveries,
		deliveryMinutes: summarize(deliveryMinutes),
		assignSeconds: summarize(assignSeconds),
		activeCouriers: couriers.size,
		newUsers,
	};
}

export interface BucketedFigures {
	from: string;
	to: string;
	granularity: Granularity;
	buckets: ({ start: string } & Figures)[];
	totals: Figures;
}

/** Facts in [from, to) grouped into dense UTC buckets, plus the totals of the whole range. */
export function bucketFigures(facts: Fact[], from: string, to: string, granularity: Granularity): BucketedFigures {
	const inRange = facts.filter((f) => f.at >= from && f.at < to);
	const byBucket = new Map<string, Fact[]>();
	for (const fact of inRange) {
		const key = bucketStart(fact.at, granularity);
		byBucket.set(key, [...(byBucket.get(key) || []), fact]);
	}
	return {
		from,
		to,
		granularity,
		buckets: bucketStarts(from, to, granularity).map((start) => ({ start, ...figuresOf(byBucket.get(start) || []) })),
		totals: figuresOf(inRange),
	};
}

/** How many buckets a range would produce; the service caps it. */
export function bucketCount(from: string, to: string, granularity: Granularity): number {
	const size = granularity === "hour" ? HOUR_MS : DAY_MS;
	return Math.max(0, Math.ceil((Date.parse(to) - Date.parse(bucketStart(from, granularity))) / size));
}

/** Groups facts by a key (e.g. supplier) and returns each group's figures. */
export function figuresBy(facts: Fact[], keyOf: (fact: Fact) => string | null): Map<string, Figures> {
	const groups = new Map<string, Fact[]>();
	for (const fact of facts) {
		const key = keyOf(fact);
		if (key === null) continue;
		groups.set(key, [...(groups.get(key) || []), fact]);
	}
	return new Map([...groups].map(([key, group]) => [key, figuresOf(group)]));
}

export const REPORT_KINDS = ["sales_by_supplier", "delivery_performance", "cancellations"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface ReportTable {
	columns: { key: string; header: string }[];
	rows: Record<string, string | number | null>[];
}

const bySupplier = (fact: Fact) => fact.supplierId || "(none)";

const SALES_COLUMNS = [
	"supplierId",
	"ordersCreated",
	"ordersConfirmed",
	"ordersDelivered",
	"ordersCancelled",
	"revenueCents",
	"refundsCents",
	"netRevenueCents",
];
const DELIVERY_COLUMNS = [
	"supplierId",
	"deliveries",
	"meanMinutes",
	"p50Minutes",
	"p90Minutes",
	"p95Minutes",
	"lateDeliveries",
	"lateRate",
	"meanAssignSeconds",
	"p90AssignSeconds",
];

const isSale = (fact: Fact) => !!(fact.order || fact.revenueCents || fact.refundsCents);

function salesBySupplier(facts: Fact[]): ReportTable {
	const rows = [...figuresBy(facts.filter(isSale), bySupplier)].map(([supplierId, f]) => ({
		supplierId,
		ordersCreated: f.ordersCreated,
		ordersConfirmed: f.ordersConfirmed,
		ordersDelivered: f.ordersDelivered,
		ordersCancelled: f.ordersCancelled,
		revenueCents: f.revenueCents,
		refundsCents: f.refundsCents,
		netRevenueCents: f.netRevenueCents,
	}));
	rows.sort((a, b) => b.netRevenueCents - a.netRevenueCents || a.supplierId.localeCompare(b.supplierId));
	return { columns: columnsOf(SALES_COLUMNS), rows };
}

function deliveryPerformance(facts: Fact[]): ReportTable {
	const rows = [...figuresBy(facts, bySupplier)]
		.filter(([, f]) => f.ordersDelivered > 0 || f.assignSeconds.count > 0)
		.map(([supplierId, f]) => ({
			supplierId,
			deliveries: f.ordersDelivered,
			meanMinutes: f.deliveryMinutes.mean,
			p50Minutes: f.deliveryMinutes.p50,
			p90Minutes: f.deliveryMinutes.p90,
			p95Minutes: f.deliveryMinutes.p95,
			lateDeliveries: f.lateDeliveries,
			lateRate: f.ordersDelivered ? Math.round((f.lateDeliveries / f.ordersDelivered) * 1000) / 1000 : null,
			meanAssignSeconds: f.assignSeconds.mean,
			p90AssignSeconds: f.assignSeconds.p90,
		}));
	rows.sort((a, b) => a.supplierId.localeCompare(b.supplierId));
	return { columns: columnsOf(DELIVERY_COLUMNS), rows };
}

function cancellations(facts: Fact[]): ReportTable {
	const counts = new Map<string, { supplierId: string; reason: string; cancellations: number }>();
	const seen = new Set<string>();
	for (const fact of facts) {
		if (fact.order !== "cancelled" || seen.has(fact.eventId)) continue;
		seen.add(fact.eventId);
		const supplierId = bySupplier(fact);
		const reason = fact.cancelReason || "unspecified";
		const key = `${supplierId}\u0000${reason}`;
		const row = counts.get(key) || { supplierId, reason, cancellations: 0 };
		row.cancellations++;
		counts.set(key, row);
	}
	const rows = [...counts.values()].sort(
		(a, b) =>
			b.cancellations - a.cancellations || a.supplierId.localeCompare(b.supplierId) || a.reason.localeCompare(b.reason),
	);
	return { columns: columnsOf(["supplierId", "reason", "cancellations"]), rows };
}

function columnsOf(keys: string[]) {
	return keys.map((key) => ({ key, header: key }));
}

/** The table of a report over the given facts. */
export function reportTable(kind: ReportKind, facts: Fact[]): ReportTable {
	if (kind === "sales_by_supplier") return salesBySupplier(facts);
	if (kind === "delivery_performance") return deliveryPerformance(facts);
	return cancellations(facts);
}
