/**
 * Analytics: every business event that moves a figure is stored once as a fact keyed by its
 * event id (lib/metrics-buckets.ts), so a redelivered event counts once. Figures are bucketed by
 * UTC hour or day on request, per supplier or platform-wide; reports (sales by supplier, delivery
 * performance, cancellations) are stored as JSON rows and CSV. Business counters are also
 * Prometheus metrics when metrics are on.
 */
import { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { toCsv } from "../lib/domain/csv";
import { EventEnvelope } from "../lib/domain/events";
import { forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { nowIso } from "../lib/infra/ids";
import {
	bucketCount,
	bucketFigures,
	Fact,
	factFromEvent,
	Granularity,
	GRANULARITIES,
	REPORT_KINDS,
	ReportKind,
	reportTable,
} from "../lib/domain/metrics-buckets";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

const MAX_BUCKETS = 24 * 93;
const DEFAULT_RANGE_MS: Record<Granularity, number> = { hour: 24 * 3_600_000, day: 30 * 86_400_000 };
const REPORT_RANGE_MS = 366 * 86_400_000;

const isoTime = { type: "string", max: 40, optional: true };
const supplierIdParam = { type: "string", max: 64, optional: true };

const METRICS = {
	orders: "gasrapido_orders_total",
	revenue: "gasrapido_revenue_cents_total",
	refunds: "gasrapido_refunds_cents_total",
	deliveryMinutes: "gasrapido_delivery_minutes",
	assignSeconds: "gasrapido_courier_assign_seconds",
};

function parseTime(value: string | undefined, field: string): number | undefined {
	if (value === undefined) return undefined;
	const ms = Date.parse(value);
	if (!Number.isFinite(ms)) throw unprocessable(`${field} must be an ISO date-time`, { field });
	return ms;
}

/** The [from, to) range a request asks for, defaulting to the recent past. */
function requestedRange(params: { from?: string; to?: string }, defaultSpanMs: number) {
	const to = parseTime(params.to, "to") ?? Date.now() + 1;
	const from = parseTime(params.from, "from") ?? to - defaultSpanMs;
	if (from >= to) throw unprocessable("from must be before to", { fields: ["from", "to"] });
	return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

const AnalyticsService: ServiceSchema = {
	name: "analytics",
	mixins: [
		DbMixin({
			collection: "analytics",
			indexes: [
				{ fields: { record: 1 } },
				{ fields: { at: 1 } },
				{ fields: { supplierId: 1 } },
				{ fields: { orderId: 1 } },
			],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		metrics: {
			rest: "GET /analytics/metrics",
			auth: { roles: ["admin", "supplier"] },
			params: {
				from: isoTime,
				to: isoTime,
				granularity: { type: "enum", values: GRANULARITIES, default: "hour" },
				supplierId: supplierIdParam,
			},
			async handler(this: any, ctx: Ctx) {
				const granularity: Granularity = ctx.params.granularity;
				const { from, to } = requestedRange(ctx.params, DEFAULT_RANGE_MS[granularity]);
				if (bucketCount(from, to, granularity) > MAX_BUCKETS)
					throw unprocessable(`At most ${MAX_BUCKETS} buckets; use a shorter range or granularity=day`);
				const supplierId = this.supplierScope(ctx);
				const facts = await this.factsIn(from, to, supplierId);
				return { supplierId, ...bucketFigures(facts, from, to, granularity) };
			},
		},

		createReport: {
			rest: "POST /analytics/reports",
			auth: { roles: ["admin", "supplier"] },
			params: {
				kind: { type: "enum", values: REPORT_KINDS },
				from: isoTime,
				to: isoTime,
				supplierId: supplierIdParam,
			},
			async handler(this: any, ctx: Ctx) {
				const { from, to } = requestedRange(ctx.params, DEFAULT_RANGE_MS.day);
				if (Date.parse(to) - Date.parse(from) > REPORT_RANGE_MS)
					throw unprocessable("A report covers at most 366 days");
				const supplierId = this.supplierScope(ctx);
				const kind: ReportKind = ctx.params.kind;
				const table = reportTable(kind, await this.factsIn(from, to, supplierId));
				const report = await this.insertEntity(ctx, {
					record: "report",
					kind,
					from,
					to,
					supplierId,
					requestedBy: ctx.meta.user!.id,
					createdAt: nowIso(),
					rowCount: table.rows.length,
					columns: table.columns,
					rows: table.rows,
					csv: toCsv(table.columns, table.rows),
				});
				await this.publishEvent(
					"report.generated",
					{ reportId: report._id, kind, requestedBy: ctx.meta.user!.id },
					ctx,
				);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/analytics/reports/${report._id}`;
				return this.publicReport(report, true);
			},
		},

		listReports: {
			rest: "GET /analytics/reports",
			auth: { roles: ["admin", "supplier"] },
			params: {
				kind: { type: "enum", values: REPORT_KINDS, optional: true },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { page, pageSize, kind } = ctx.params;
				const query: Doc = { record: "report" };
				if (kind) query.kind = kind;
				if (ctx.meta.user!.role !== "admin") query.requestedBy = ctx.meta.user!.id;
				const [rows, total] = await Promise.all([
					this.findEntities({ query, sort: ["-createdAt"], limit: pageSize, offset: (page - 1) * pageSize }),
					this.countEntities(query),
				]);
				return { rows: rows.map((r: Doc) => this.publicReport(r, false)), total, page, pageSize };
			},
		},

		getReport: {
			rest: "GET /analytics/reports/:id",
			auth: { roles: ["admin", "supplier"] },
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				return this.publicReport(await this.reportFor(ctx, ctx.params.id), true);
			},
		},

		downloadReport: {
			rest: "GET /analytics/reports/:id/download",
			auth: { roles: ["admin", "supplier"] },
			params: { id: { type: "string", max: 64 }, format: { type: "enum", values: ["csv", "json"], default: "csv" } },
			async handler(this: any, ctx: Ctx) {
				const report = await this.reportFor(ctx, ctx.params.id);
				const csv = ctx.params.format === "csv";
				ctx.meta.$responseType = csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
				ctx.meta.$responseHeaders = {
					"Content-Disposition": `attachment; filename="${report.kind}-${report._id}.${ctx.params.format}"`,
				};
				return csv ? report.csv : JSON.stringify({ ...this.publicReport(report, false), rows: report.rows });
			},
		},

		/** Internal: the fact an event was stored as (tests and support). */
		factOf: {
			visibility: "public",
			params: { eventId: { type: "string", max: 64 } },
			handler(this: any, ctx: Ctx) {
				return this.findEntity(`fact:${ctx.params.eventId}`);
			},
		},
	} as any,

	businessEvents: {
		async "*"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			await this.recordFact(envelope, ctx);
		},
	},

	methods: {
		/** Stores the event's fact once; true when it was new (and counted). */
		async recordFact(this: any, envelope: EventEnvelope, ctx: Ctx | null): Promise<boolean> {
			const fact = factFromEvent(envelope);
			if (!fact) return false;
			if (!fact.supplierId && fact.orderId) fact.supplierId = await this.supplierOfOrder(fact.orderId);
			try {
				await this.insertEntity(ctx, { _id: `fact:${fact.eventId}`, record: "fact", ...fact });
			} catch (err: any) {
				if (err && err.code === 409) return false;
				throw err;
			}
			this.countInPrometheus(fact);
			return true;
		},

		/** Refunds name the order, not the supplier: the order's earlier facts do. */
		async supplierOfOrder(this: any, orderId: string): Promise<string | null> {
			const known = await this.findOneEntity({ record: "fact", orderId, supplierId: { $ne: null } });
			return known ? known.supplierId : null;
		},

		async factsIn(this: any, from: string, to: string, supplierId: string | null): Promise<Fact[]> {
			const query: Doc = { record: "fact", at: { $gte: from, $lt: to } };
			if (supplierId) query.supplierId = supplierId;
			return this.findEntities({ query });
		},

		/** A supplier sees only its own figures; an admin sees any supplier or the whole platform. */
		supplierScope(this: any, ctx: Ctx): string | null {
			const me = ctx.meta.user!;
			if (me.role === "admin") return ctx.params.supplierId || null;
			if (ctx.params.supplierId && ctx.params.supplierId !== me.id)
				throw forbidden("You can only see your own figures");
			return me.id;
		},

		async reportFor(this: any, ctx: Ctx, id: string): Promise<Doc> {
			const report = await this.findEntity(id);
			if (!report || report.record !== "report") throw notFound("report", id);
			const me = ctx.meta.user!;
			if (me.role !== "admin" && report.requestedBy !== me.id) throw forbidden("You can only see your own reports");
			return report;
		},

		publicReport(this: any, report: Doc, withRows: boolean) {
			const hidden = withRows ? ["record", "csv"] : ["record", "csv", "rows"];
			return {
				...this.toPublic(report, hidden),
				downloads: {
					csv: `/api/analytics/reports/${report._id}/download?format=csv`,
					json: `/api/analytics/reports/${report._id}/download?format=json`,
				},
			};
		},

		registerPrometheusMetrics(this: any) {
			const metrics = this.broker.metrics;
			metrics.register({
				type: "counter",
				name: METRICS.orders,
				labelNames: ["status"],
				description: "Orders by status reached",
			});
			metrics.register({ type: "counter", name: METRICS.revenue, description: "Captured payments, BRL cents" });
			metrics.register({ type: "counter", name: METRICS.refunds, description: "Refunds, BRL cents" });
			metrics.register({
				type: "histogram",
				name: METRICS.deliveryMinutes,
				description: "Minutes from confirmation to delivery",
				buckets: [10, 15, 20, 30, 45, 60, 90, 120, 180],
				// Moleculer's Prometheus reporter writes _sum and _count only for histograms with quantiles.
				quantiles: [0.5, 0.9, 0.95],
			});
			metrics.register({
				type: "histogram",
				name: METRICS.assignSeconds,
				description: "Seconds an order waited for a courier",
				buckets: [5, 15, 30, 60, 120, 300, 600, 1800],
				quantiles: [0.5, 0.9, 0.95],
			});
		},

		countInPrometheus(this: any, fact: Fact) {
			if (!this.broker.isMetricsEnabled()) return;
			const metrics = this.broker.metrics;
			if (fact.order) metrics.increment(METRICS.orders, { status: fact.order });
			if (fact.revenueCents) metrics.increment(METRICS.revenue, null, fact.revenueCents);
			if (fact.refundsCents) metrics.increment(METRICS.refunds, null, fact.refundsCents);
			if (fact.deliveryMinutes !== undefined) metrics.observe(METRICS.deliveryMinutes, fact.deliveryMinutes);
			if (fact.assignSeconds !== undefined) metrics.observe(METRICS.assignSeconds, fact.assignSeconds);
		},
	},

	started(this: any) {
		if (this.broker.isMetricsEnabled()) this.registerPrometheusMetrics();
	},
};

export = AnalyticsService;
