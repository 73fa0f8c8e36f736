/**
 * Analytics: every business event that moves a figure is stored once as a fact keyed by its
 * event id (lib/domain/metrics-buckets.ts), so a redelivered event counts once. Facts are indexed by
 * time (and supplier), so figures and reports read only their range; they are bucketed by UTC hour
 * or day on request, per supplier or platform-wide. Reports (sales by supplier, delivery
 * performance, cancellations) are stored as JSON rows and CSV. Business counters are also
 * Prometheus metrics when metrics are on.
 */
import { Context, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { AuthUser, Ctx } from "../lib/contracts/common";
import { ANALYTICS_PARAMS } from "../lib/contracts/analytics";
import type * as C from "../lib/contracts/analytics";
import type { Report, StoredFact } from "../lib/contracts/analytics";
import { toCsv } from "../lib/domain/csv";
import { EventEnvelope } from "../lib/domain/events";
import { forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { UniqueViolationError } from "../lib/infra/store/types";
import {
	bucketCount,
	bucketFigures,
	Fact,
	FACT_EVENTS,
	factFromEvent,
	reportTable,
} from "../lib/domain/metrics-buckets";
import type { Granularity } from "../lib/domain/metrics-buckets";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import { LEDGER_KINDS, LedgerMethods, ledgerSchema } from "./parts/analytics/ledger.mixin";
import { REMINDER_KINDS, ReminderMethods, remindersSchema } from "./parts/analytics/reminders.mixin";
import type { OrderDelivered, RefundProcessed } from "../lib/contracts/events";

const MAX_BUCKETS = 24 * 93;
const DEFAULT_RANGE_MS: Record<Granularity, number> = { hour: 24 * 3_600_000, day: 30 * 86_400_000 };
const REPORT_RANGE_MS = 366 * 86_400_000;

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

interface OwnMethods {
	recordFact(envelope: EventEnvelope<object>, ctx: Context | null): Promise<boolean>;
	supplierOfOrder(orderId: string): Promise<string | null>;
	factsIn(from: string, to: string, supplierId: string | null): Promise<Fact[]>;
	supplierScope(ctx: Ctx<{ supplierId?: string }>): string | null;
	reportFor(me: AuthUser, id: string): Promise<Report>;
	publicReport(report: Report, withRows: boolean): Record<string, unknown>;
	registerPrometheusMetrics(): void;
	countInPrometheus(fact: Fact): void;
}
type ThisService = Service<{ rest: string }> &
	DbMethods<Report> &
	EventsMethods &
	OwnMethods &
	LedgerMethods &
	ReminderMethods;

async function onFactEvent(this: ThisService, envelope: EventEnvelope<object>, ctx: Context) {
	await this.recordFact(envelope, ctx);
}
/** Only the events that become facts (lib/domain/metrics-buckets.ts FACT_EVENTS). */
const businessEvents: BusinessEventHandlers<ThisService> = {
	...Object.fromEntries(FACT_EVENTS.map((t) => [t, onFactEvent])),
	// The ledger (services/parts/analytics/ledger.mixin.ts) books deliveries and refunds too.
	async "order.delivered"(envelope, ctx) {
		await this.recordFact(envelope, ctx);
		await this.recordSale(envelope as EventEnvelope<OrderDelivered>);
		await this.recordConsumption(envelope as EventEnvelope<OrderDelivered>);
	},
	async "refund.processed"(envelope, ctx) {
		await this.recordFact(envelope, ctx);
		await this.recordReversal(envelope as EventEnvelope<RefundProcessed>);
	},
};

const AnalyticsService: ServiceSchema<{ rest: string }, ThisService> = {
	name: "analytics",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		ledgerSchema,
		remindersSchema,
		TimersMixin,
		EventsMixin,
		DbMixin<Report>({
			collection: "analytics",
			indexes: [{ fields: { requestedBy: 1, createdAt: -1 } }, { fields: { createdAt: -1 } }],
			kinds: {
				facts: {
					indexes: [{ fields: { at: 1 } }, { fields: { supplierId: 1, at: 1 } }, { fields: { orderId: 1 } }],
				},
				...LEDGER_KINDS,
				...REMINDER_KINDS,
			},
		}),
	],
	settings: { rest: "/" },

	actions: {
		metrics: {
			rest: "GET /analytics/metrics",
			auth: { roles: ["admin", "supplier"] },
			params: ANALYTICS_PARAMS.metrics,
			async handler(this: ThisService, ctx: Ctx<C.MetricsParams>) {
				const granularity = ctx.params.granularity;
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
			params: ANALYTICS_PARAMS.createReport,
			async handler(this: ThisService, ctx: Ctx<C.CreateReportParams>) {
				const { from, to } = requestedRange(ctx.params, DEFAULT_RANGE_MS.day);
				if (Date.parse(to) - Date.parse(from) > REPORT_RANGE_MS)
					throw unprocessable("A report covers at most 366 days");
				const supplierId = this.supplierScope(ctx);
				const { kind } = ctx.params;
				const requestedBy = ctx.meta.user!.id;
				const table = reportTable(kind, await this.factsIn(from, to, supplierId));
				const _id = newId();
				const report = await this.insertEntity(
					ctx,
					{
						_id,
						kind,
						from,
						to,
						supplierId,
						requestedBy,
						createdAt: nowIso(),
						rowCount: table.rows.length,
						columns: table.columns,
						rows: table.rows,
						csv: toCsv(table.columns, table.rows),
					},
					[{ type: "report.generated", data: { reportId: _id, kind, requestedBy } }],
				);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/analytics/reports/${report._id}`;
				return this.publicReport(report, true);
			},
		},

		listReports: {
			rest: "GET /analytics/reports",
			auth: { roles: ["admin", "supplier", "courier"] },
			params: ANALYTICS_PARAMS.listReports,
			async handler(this: ThisService, ctx: Ctx<C.ListReportsParams>) {
				const { page, pageSize, kind } = ctx.params;
				const me = ctx.meta.user!;
				const mine = { $or: [{ requestedBy: me.id }, { partyId: me.id }] };
				const query = { ...(kind && { kind }), ...(me.role !== "admin" && mine) };
				const result = await this.paginate(query, { page, pageSize });
				return { ...result, rows: result.rows.map((r) => this.publicReport(r, false)) };
			},
		},

		getReport: {
			rest: "GET /analytics/reports/:id",
			auth: { roles: ["admin", "supplier", "courier"] },
			params: ANALYTICS_PARAMS.getReport,
			async handler(this: ThisService, ctx: Ctx<C.ReportIdParams>) {
				return this.publicReport(await this.reportFor(ctx.meta.user!, ctx.params.id), true);
			},
		},

		downloadReport: {
			rest: "GET /analytics/reports/:id/download",
			auth: { roles: ["admin", "supplier", "courier"] },
			params: ANALYTICS_PARAMS.downloadReport,
			async handler(this: ThisService, ctx: Ctx<C.ReportIdParams>) {
				const report = await this.reportFor(ctx.meta.user!, ctx.params.id);
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
			params: ANALYTICS_PARAMS.factOf,
			handler(this: ThisService, ctx: Ctx<{ eventId: string }>) {
				return this.kind<StoredFact>("facts").findById(`fact:${ctx.params.eventId}`);
			},
		},
	},

	businessEvents,

	timers: {
		dailyStatements: {
			everyMs(this: ThisService) {
				return this.ledgerCfg.dailyStatementsCheckMs;
			},
			runAtStart: true,
			run(this: ThisService) {
				return this.dailyStatements();
			},
		},
		reorderReminders: {
			everyMs(this: ThisService) {
				return this.reminderCfg.checkMs;
			},
			run(this: ThisService) {
				return this.sendDueReminders();
			},
		},
	} satisfies TimerJobs<ThisService>,

	methods: {
		/** Stores the event's fact once; true when it was new (and counted). */
		async recordFact(this: ThisService, envelope: EventEnvelope<object>) {
			const fact = factFromEvent(envelope);
			if (!fact) return false;
			if (!fact.supplierId && fact.orderId) fact.supplierId = await this.supplierOfOrder(fact.orderId);
			try {
				await this.kind<StoredFact>("facts").insert({ _id: `fact:${fact.eventId}`, ...fact });
			} catch (err) {
				if (err instanceof UniqueViolationError) return false;
				throw err;
			}
			this.countInPrometheus(fact);
			return true;
		},

		/** Refunds name the order, not the supplier: the order's earlier facts do. */
		async supplierOfOrder(this: ThisService, orderId: string) {
			const known = await this.kind<StoredFact>("facts").findOne({ orderId, supplierId: { $ne: null } });
			return known ? known.supplierId : null;
		},

		/** The facts of [from, to), read by the time index (per supplier when scoped). */
		factsIn(this: ThisService, from: string, to: string, supplierId: string | null) {
			const query = { at: { $gte: from, $lt: to }, ...(supplierId && { supplierId }) };
			return this.kind<StoredFact>("facts").find({ query });
		},

		/** A supplier sees only its own figures; an admin sees any supplier or the whole platform. */
		supplierScope(this: ThisService, ctx: Ctx<{ supplierId?: string }>) {
			const me = ctx.meta.user!;
			if (me.role === "admin") return ctx.params.supplierId || null;
			if (ctx.params.supplierId && ctx.params.supplierId !== me.id)
				throw forbidden("You can only see your own figures");
			return me.id;
		},

		async reportFor(this: ThisService, me: AuthUser, id: string) {
			const report = await this.findEntity(id);
			if (!report) throw notFound("report", id);
			if (me.role !== "admin" && report.requestedBy !== me.id && report.partyId !== me.id)
				throw forbidden("You can only see your own reports");
			return report;
		},

		publicReport(this: ThisService, report: Report, withRows: boolean) {
			return {
				...this.toPublic(report, withRows ? ["csv"] : ["csv", "rows"]),
				downloads: {
					csv: `/api/analytics/reports/${report._id}/download?format=csv`,
					json: `/api/analytics/reports/${report._id}/download?format=json`,
				},
			};
		},

		registerPrometheusMetrics(this: ThisService) {
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

		countInPrometheus(this: ThisService, fact: Fact) {
			if (!this.broker.isMetricsEnabled()) return;
			const metrics = this.broker.metrics;
			if (fact.order) metrics.increment(METRICS.orders, { status: fact.order });
			if (fact.revenueCents) metrics.increment(METRICS.revenue, undefined, fact.revenueCents);
			if (fact.refundsCents) metrics.increment(METRICS.refunds, undefined, fact.refundsCents);
			if (fact.deliveryMinutes !== undefined) metrics.observe(METRICS.deliveryMinutes, fact.deliveryMinutes);
			if (fact.assignSeconds !== undefined) metrics.observe(METRICS.assignSeconds, fact.assignSeconds);
		},
	},

	started(this: ThisService) {
		if (this.broker.isMetricsEnabled()) this.registerPrometheusMetrics();
	},
};

export = AnalyticsService;
