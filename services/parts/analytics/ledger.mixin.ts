/**
 * Analytics' ledger: the marketplace's money. Each delivered order (order.delivered) becomes one
 * `sale:<orderId>` entry splitting its gross into the platform's commission, the courier's fee and
 * the supplier's net (lib/domain/ledger.ts); each refund of a delivered order (refund.processed) one
 * `refund:<refundId>` reversal. Entry ids make both idempotent: an event delivered twice writes one
 * entry. Statements per supplier and per courier (a day or a range, JSON or CSV; stored with the
 * reports on demand and daily); payout runs mark unpaid entries paid, once per entry and run id.
 *
 * Commission rates: kind `commissions` (`_id` = supplier id), COMMISSION_BPS when a supplier has none.
 */
import { Context, ServiceSchema } from "moleculer";
import type { AuthUser, Ctx } from "../../../lib/contracts/common";
import type { OrderDelivered, PendingEvent, RefundProcessed } from "../../../lib/contracts/events";
import type { Report } from "../../../lib/contracts/analytics";
import {
	CommissionRate,
	LEDGER_PARAMS,
	LedgerEntry,
	ListEntriesParams,
	PayoutRun,
	RunPayoutParams,
	SetCommissionParams,
	StatementParams,
} from "../../../lib/contracts/ledger";
import { pageParams } from "../../../lib/contracts/params";
import { toCsv } from "../../../lib/domain/csv";
import type { EventEnvelope } from "../../../lib/domain/events";
import {
	courierFeeCents,
	dayRange,
	Party,
	PAYOUT_FIELD,
	payoutLines,
	previousDay,
	reversalSplit,
	saleSplit,
	statement,
	Statement,
	statementKind,
} from "../../../lib/domain/ledger";
import { AppConfig, config } from "../../../lib/infra/config";
import { forbidden, notFound, unprocessable } from "../../../lib/infra/errors";
import { newId, nowIso } from "../../../lib/infra/ids";
import type { Collection, IndexSpec, StoredDoc } from "../../../lib/infra/store/types";
import { UniqueViolationError } from "../../../lib/infra/store/types";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { Service } from "moleculer";

export const LEDGER_KINDS: Record<string, { indexes?: IndexSpec[] }> = {
	ledger: {
		indexes: [
			{ fields: { supplierId: 1, at: 1 } },
			{ fields: { courierId: 1, at: 1 } },
			{ fields: { orderId: 1 } },
			{ fields: { supplierPayoutId: 1 } },
			{ fields: { courierPayoutId: 1 } },
		],
	},
	commissions: {},
	/** Refunds of orders not delivered yet (`_id` = refund id): reversed when the sale is recorded. */
	early_refunds: { indexes: [{ fields: { orderId: 1 } }] },
	payouts: { indexes: [{ fields: { startedAt: -1 } }] },
};

const MAX_STATEMENT_MS = 93 * 86_400_000;
const PAY_BATCH = 500;

export interface LedgerMethods {
	/** The LEDGER settings, read when the service is created. */
	ledgerCfg: AppConfig["ledger"];
	commissionFor(supplierId: string): Promise<number>;
	recordSale(envelope: EventEnvelope<OrderDelivered>): Promise<LedgerEntry | null>;
	recordReversal(envelope: EventEnvelope<RefundProcessed>): Promise<LedgerEntry | null>;
	reverseEarlyRefunds(orderId: string): Promise<void>;
	statementFor(party: Party, partyId: string, from: string, to: string): Promise<Statement>;
	statementScope(me: AuthUser, p: StatementParams): { party: Party; partyId: string; from: string; to: string };
	storeStatement(ctx: Context | null, s: Statement, requestedBy: string, id?: string): Promise<Report>;
	runPayout(ctx: Context, p: RunPayoutParams, by: string): Promise<PayoutRun & { alreadyRun: boolean }>;
	dailyStatements(now?: Date): Promise<number>;
}

type LedgerService = Service &
	DbMethods<Report> &
	EventsMethods &
	LedgerMethods & {
		publicReport(report: Report, withRows: boolean): Record<string, unknown>;
	};

const ledger = (s: LedgerService) => s.kind<LedgerEntry>("ledger");
const payouts = (s: LedgerService) => s.kind<PayoutRun>("payouts");

interface EarlyRefund extends StoredDoc {
	orderId: string;
	envelope: EventEnvelope<RefundProcessed>;
}
const earlyRefunds = (s: LedgerService) => s.kind<EarlyRefund>("early_refunds");

async function insertOnce<T extends StoredDoc>(c: Collection<T>, doc: T): Promise<T | null> {
	try {
		return await c.insert(doc);
	} catch (err) {
		if (err instanceof UniqueViolationError) return null;
		throw err;
	}
}

function parseRangeTime(value: string | undefined, field: string): number | undefined {
	if (value === undefined) return undefined;
	const ms = Date.parse(value);
	if (!Number.isFinite(ms)) throw unprocessable(`${field} must be an ISO date-time`, { field });
	return ms;
}

export const ledgerSchema: Partial<ServiceSchema> = {
	actions: {
		getCommission: {
			rest: "GET /ledger/commissions/:supplierId",
			auth: { roles: ["admin", "supplier"] },
			params: LEDGER_PARAMS.getCommission,
			async handler(this: LedgerService, ctx: Ctx<{ supplierId: string }>) {
				const me = ctx.meta.user!;
				if (me.role !== "admin" && me.id !== ctx.params.supplierId) throw forbidden("You can only see your own rate");
				const own = await this.kind<CommissionRate>("commissions").findById(ctx.params.supplierId);
				return {
					supplierId: ctx.params.supplierId,
					commissionBps: own ? own.commissionBps : this.ledgerCfg.commissionBps,
					isDefault: !own,
					updatedAt: own?.updatedAt ?? null,
				};
			},
		},

		setCommission: {
			rest: "PUT /ledger/commissions/:supplierId",
			auth: { roles: ["admin"], mfa: true },
			params: LEDGER_PARAMS.setCommission,
			async handler(this: LedgerService, ctx: Ctx<SetCommissionParams>) {
				const { supplierId, commissionBps } = ctx.params;
				const rates = this.kind<CommissionRate>("commissions");
				const before = await rates.findById(supplierId);
				const changedBy = ctx.meta.user!.id;
				const event: PendingEvent[] = [
					{
						type: "commission.changed",
						data: { supplierId, commissionBps, previousBps: before?.commissionBps ?? null, changedBy },
					},
				];
				const envelopes = this.envelopes(ctx, event);
				const now = nowIso();
				if (commissionBps === null) {
					if (before) {
						await rates.removeMany({ _id: supplierId });
						await this.store.outbox.add(envelopes);
					}
				} else if (before) {
					await rates.updateOne(
						{ _id: supplierId },
						{ $set: { commissionBps, updatedBy: changedBy, updatedAt: now } },
						envelopes,
					);
				} else {
					await rates.insert({ _id: supplierId, commissionBps, updatedBy: changedBy, updatedAt: now }, envelopes);
				}
				void this.flushOutbox();
				return {
					supplierId,
					commissionBps: commissionBps ?? this.ledgerCfg.commissionBps,
					isDefault: commissionBps === null,
					updatedAt: now,
				};
			},
		},

		statement: {
			rest: "GET /ledger/statements",
			auth: { roles: ["admin", "supplier", "courier"] },
			params: LEDGER_PARAMS.statement,
			async handler(this: LedgerService, ctx: Ctx<StatementParams>) {
				const { party, partyId, from, to } = this.statementScope(ctx.meta.user!, ctx.params);
				const s = await this.statementFor(party, partyId, from, to);
				if (ctx.params.format !== "csv") return s;
				ctx.meta.$responseType = "text/csv; charset=utf-8";
				ctx.meta.$responseHeaders = {
					"Content-Disposition": `attachment; filename="${party}-statement-${partyId}.csv"`,
				};
				return toCsv(s.columns, s.rows);
			},
		},

		createStatement: {
			rest: "POST /ledger/statements",
			auth: { roles: ["admin", "supplier", "courier"] },
			params: LEDGER_PARAMS.createStatement,
			async handler(this: LedgerService, ctx: Ctx<StatementParams>) {
				const { party, partyId, from, to } = this.statementScope(ctx.meta.user!, ctx.params);
				const report = await this.storeStatement(
					ctx,
					await this.statementFor(party, partyId, from, to),
					ctx.meta.user!.id,
				);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/analytics/reports/${report._id}`;
				return this.publicReport(report, true);
			},
		},

		runPayout: {
			rest: "POST /ledger/payouts",
			auth: { roles: ["admin"], mfa: true },
			params: LEDGER_PARAMS.runPayout,
			async handler(this: LedgerService, ctx: Ctx<RunPayoutParams>) {
				const run = await this.runPayout(ctx, ctx.params, ctx.meta.user!.id);
				if (!run.alreadyRun) ctx.meta.$statusCode = 201;
				const { _id, ...rest } = run;
				return { id: _id, ...rest };
			},
		},

		getPayout: {
			rest: "GET /ledger/payouts/:id",
			auth: { roles: ["admin"] },
			params: LEDGER_PARAMS.getPayout,
			async handler(this: LedgerService, ctx: Ctx<{ id: string }>) {
				const run = await payouts(this).findById(ctx.params.id);
				if (!run) throw notFound("payout run", ctx.params.id);
				const { _id, ...rest } = run;
				return { id: _id, ...rest };
			},
		},

		listPayouts: {
			rest: "GET /ledger/payouts",
			auth: { roles: ["admin"] },
			params: pageParams,
			async handler(this: LedgerService, ctx: Ctx<{ page: number; pageSize: number }>) {
				const { page, pageSize } = ctx.params;
				const rows = await payouts(this).find({
					sort: { startedAt: -1 },
					limit: pageSize,
					offset: (page - 1) * pageSize,
				});
				return {
					page,
					pageSize,
					rows: rows.map(({ _id, entryIds, ...r }) => ({ id: _id, ...r, entryCount: entryIds.length })),
				};
			},
		},

		/** An order's ledger entries (admins; support and tests). */
		entriesOf: {
			rest: "GET /ledger/orders/:orderId/entries",
			auth: { roles: ["admin"] },
			params: LEDGER_PARAMS.entriesOf,
			async handler(this: LedgerService, ctx: Ctx<ListEntriesParams>) {
				const rows = await ledger(this).find({ query: { orderId: ctx.params.orderId }, sort: { at: 1 } });
				return rows.map(({ _id, reversals: _r, ...e }) => ({ id: _id, ...e }));
			},
		},
	},

	methods: {
		async commissionFor(this: LedgerService, supplierId: string) {
			const own = await this.kind<CommissionRate>("commissions").findById(supplierId);
			return own ? own.commissionBps : this.ledgerCfg.commissionBps;
		},

		/** The delivered order's sale entry, once (null when it was already recorded). */
		async recordSale(this: LedgerService, envelope: EventEnvelope<OrderDelivered>) {
			const d = envelope.data;
			const id = `sale:${d.orderId}`;
			if (await ledger(this).findById(id)) return null;
			const cfg = this.ledgerCfg;
			const commissionBps = await this.commissionFor(d.supplierId);
			const distanceKm = typeof d.distanceKm === "number" ? d.distanceKm : 0;
			const fee = d.courierId
				? courierFeeCents(distanceKm, { baseCents: cfg.courierFeeBaseCents, perKmCents: cfg.courierFeePerKmCents })
				: null;
			const split = saleSplit(Math.max(0, Math.round(d.totalCents)), commissionBps, fee);
			const sale = await insertOnce(ledger(this), {
				_id: id,
				kind: "sale",
				orderId: d.orderId,
				supplierId: d.supplierId,
				...(d.courierId ? { courierId: d.courierId } : {}),
				customerId: d.customerId,
				...(d.paymentMethod ? { paymentMethod: d.paymentMethod } : {}),
				at: d.deliveredAt || envelope.time,
				distanceKm,
				commissionBps,
				...split,
				refundedCents: 0,
				eventId: envelope.id,
			});
			if (sale) await this.reverseEarlyRefunds(d.orderId);
			return sale;
		},

		/** Refunds made before the delivery (kept by recordReversal) reversed now that the sale exists. */
		async reverseEarlyRefunds(this: LedgerService, orderId: string) {
			for (const early of await earlyRefunds(this).find({ query: { orderId } }))
				await this.recordReversal(early.envelope);
		},

		/**
		 * A refund of a delivered order reverses its shares in proportion. The sale records each
		 * refund's cumulative range first (compare-and-set on refundedCents: concurrent refunds take
		 * turns), then the reversal entry is written from that record, so a redelivery after a crash
		 * writes the same entry. A refund of an order not delivered yet has no sale: it is kept, and
		 * reversed when the sale is recorded (a partial refund before delivery lowers what is shared).
		 */
		async recordReversal(this: LedgerService, envelope: EventEnvelope<RefundProcessed>) {
			const d = envelope.data;
			const entryId = `refund:${d.refundId}`;
			if (await ledger(this).findById(entryId)) return null;
			let sale = await ledger(this).findById(`sale:${d.orderId}`);
			if (!sale) {
				await insertOnce(earlyRefunds(this), { _id: d.refundId, orderId: d.orderId, envelope });
				// The sale may have been recorded (and its early refunds read) meanwhile: look again.
				sale = await ledger(this).findById(`sale:${d.orderId}`);
			}
			let range = sale?.reversals?.[d.refundId];
			for (let attempt = 0; sale && !range && attempt < 20; attempt++) {
				const before = sale.refundedCents ?? 0;
				const next = { before, after: before + Math.max(0, Math.round(d.amountCents)), at: envelope.time };
				const updated = await ledger(this).updateOne(
					{ _id: sale._id, refundedCents: before },
					{ $set: { refundedCents: next.after, [`reversals.${d.refundId}`]: next } },
				);
				if (updated) range = next;
				else sale = await ledger(this).findById(sale._id);
				if (!range) range = sale?.reversals?.[d.refundId];
			}
			if (!sale) return null;
			if (!range) throw new Error(`Could not record refund ${d.refundId} on the ledger (too many concurrent refunds)`);
			const split = reversalSplit(sale, range.before, range.after - range.before);
			return insertOnce(ledger(this), {
				_id: entryId,
				kind: "reversal",
				orderId: sale.orderId,
				supplierId: sale.supplierId,
				...(sale.courierId ? { courierId: sale.courierId } : {}),
				at: range.at,
				distanceKm: sale.distanceKm,
				commissionBps: sale.commissionBps,
				...split,
				eventId: envelope.id,
			});
		},

		async statementFor(this: LedgerService, party: Party, partyId: string, from: string, to: string) {
			const field = party === "supplier" ? "supplierId" : "courierId";
			const entries = await ledger(this).find({ query: { [field]: partyId, at: { $gte: from, $lt: to } } });
			return statement(party, partyId, from, to, entries);
		},

		/** Who may see which statement: suppliers and couriers their own, admins anyone's (named). */
		statementScope(this: LedgerService, me: AuthUser, p: StatementParams) {
			if (me.role !== "admin") {
				if (me.role !== p.party) throw forbidden(`Only a ${p.party} or an admin can see a ${p.party}'s statement`);
				if (p.partyId && p.partyId !== me.id) throw forbidden("You can only see your own statement");
			} else if (!p.partyId) throw unprocessable("partyId is required for an admin", { fields: ["partyId"] });
			const partyId = p.partyId || me.id;
			let from: number;
			let to: number;
			if (p.day) {
				if (p.from || p.to) throw unprocessable("Give a day or a from/to range, not both", { fields: ["day"] });
				const day = dayRange(p.day);
				if (!day) throw unprocessable("day must be a real date (YYYY-MM-DD)", { fields: ["day"] });
				from = Date.parse(day.from);
				to = Date.parse(day.to);
			} else {
				to = parseRangeTime(p.to, "to") ?? Date.now() + 1;
				from = parseRangeTime(p.from, "from") ?? to - 86_400_000;
			}
			if (from >= to) throw unprocessable("from must be before to", { fields: ["from", "to"] });
			if (to - from > MAX_STATEMENT_MS) throw unprocessable("A statement covers at most 93 days");
			return { party: p.party, partyId, from: new Date(from).toISOString(), to: new Date(to).toISOString() };
		},

		async storeStatement(this: LedgerService, ctx: Context | null, s: Statement, requestedBy: string, id = newId()) {
			const kind = statementKind(s.party);
			return this.insertEntity(
				ctx,
				{
					_id: id,
					kind,
					from: s.from,
					to: s.to,
					supplierId: s.party === "supplier" ? s.partyId : null,
					partyId: s.partyId,
					requestedBy,
					createdAt: nowIso(),
					rowCount: s.rows.length,
					columns: s.columns,
					rows: s.rows,
					totals: s.totals,
					csv: toCsv(s.columns, s.rows),
				},
				[{ type: "report.generated", data: { reportId: id, kind, requestedBy } }],
			);
		},

		/**
		 * Pays every unpaid entry of the party before `until`: each entry is marked with the run id by
		 * compare-and-set (paid at most once, by one run); the run record says who, when and what.
		 * The same run id again resumes or returns the completed run: nothing is paid twice.
		 */
		async runPayout(this: LedgerService, ctx: Context, p: RunPayoutParams, by: string) {
			const runId = p.runId || `payout-${newId()}`;
			const until = p.until ? new Date(Date.parse(p.until)).toISOString() : nowIso();
			if (!Number.isFinite(Date.parse(until)))
				throw unprocessable("until must be an ISO date-time", { fields: ["until"] });
			const fresh: PayoutRun = {
				_id: runId,
				party: p.party,
				until,
				requestedBy: by,
				startedAt: nowIso(),
				status: "running",
				entries: 0,
				totalCents: 0,
				lines: [],
				entryIds: [],
			};
			const run = (await insertOnce(payouts(this), fresh)) ?? (await payouts(this).findById(runId))!;
			if (run.party !== p.party)
				throw unprocessable(`Run ${runId} already paid ${run.party}s`, { fields: ["runId"], party: run.party });
			if (run.status === "completed") return { ...run, alreadyRun: true };
			const field = PAYOUT_FIELD[run.party];
			const partyField = run.party === "supplier" ? "supplierId" : "courierId";
			for (;;) {
				const unpaid = await ledger(this).find({
					query: { [partyField]: { $exists: true }, [field]: { $exists: false }, at: { $lt: run.until } },
					limit: PAY_BATCH,
				});
				if (unpaid.length === 0) break;
				for (const e of unpaid)
					await ledger(this).updateOne({ _id: e._id, [field]: { $exists: false } }, { $set: { [field]: runId } });
			}
			const paid = await ledger(this).find({ query: { [field]: runId }, sort: { at: 1 } });
			const lines = payoutLines(run.party, paid);
			const done = {
				status: "completed" as const,
				completedAt: nowIso(),
				entries: paid.length,
				totalCents: lines.reduce((n, l) => n + l.amountCents, 0),
				lines,
				entryIds: paid.map((e) => e._id),
			};
			const events = this.envelopes(ctx, [
				{
					type: "payout.completed",
					data: {
						runId,
						party: run.party,
						until: run.until,
						requestedBy: run.requestedBy,
						entries: done.entries,
						totalCents: done.totalCents,
						lines,
					},
				},
			]);
			const completed = await payouts(this).updateOne({ _id: runId, status: "running" }, { $set: done }, events);
			if (completed) void this.flushOutbox();
			return { ...(completed ?? (await payouts(this).findById(runId))!), alreadyRun: !completed };
		},

		/** Yesterday's statement of every supplier and courier with entries that day, once each. */
		async dailyStatements(this: LedgerService, now = new Date()) {
			const day = previousDay(now);
			const { from, to } = dayRange(day)!;
			const entries = await ledger(this).find({ query: { at: { $gte: from, $lt: to } } });
			let made = 0;
			for (const party of ["supplier", "courier"] as Party[]) {
				const ids = new Set(entries.map((e) => (party === "supplier" ? e.supplierId : e.courierId)).filter(Boolean));
				for (const partyId of ids as Set<string>) {
					const id = `statement:${party}:${partyId}:${day}`;
					if (await this.findEntity(id)) continue;
					try {
						await this.storeStatement(null, statement(party, partyId, from, to, entries), "system", id);
						made++;
					} catch (err) {
						if (!(err instanceof Error && /unique/i.test(err.message))) throw err;
					}
				}
			}
			return made;
		},
	},

	created(this: Service) {
		// Read when the service is created, so each broker gets its environment.
		(this as LedgerService).ledgerCfg = config().ledger;
	},
};
