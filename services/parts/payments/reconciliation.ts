/**
 * Payments' reconciliation: methods of the payments service (mixed into its `methods`), kept apart so
 * the service file stays readable. The decisions are pure rules in lib/domain/payments.ts.
 *
 * Every payment of the newest 5000 is compared with its order (orders.statusesFor). Repaired:
 * - a charge `processing` longer than the grace: the provider's status for its idempotency key
 *   decides (known outcome → recorded with its event; unknown → charged again under the same key,
 *   which is safe);
 * - a captured payment whose order is cancelled: refunded (under the cancellation's fixed refund id);
 * - a captured/authorized payment whose order is still `created`: payment.processed again (orders'
 *   consumer is idempotent), so the order gets confirmed;
 * - a refund left in flight: asked again under its key;
 * - a PIX still `pending` (its confirmation timer died with the process): the provider's status for
 *   its key decides — paid → captured (pix_confirmed, the order gets confirmed), past PIX_EXPIRY_MS →
 *   failed "pix_expired" (pix_expired, the order gets cancelled), else it keeps waiting (no mismatch).
 * Each repair is logged with its order id and counted in gasrapido_repairs_total{kind}. The rest is
 * published as reconciliation.mismatch, and so is a run with more repairs than
 * RECONCILIATION_ALERT_THRESHOLD (problem "too_many_repairs").
 *
 * Runs as the payments service's "reconcile" timer (TimersMixin): once shortly after start-up (not
 * blocking it) and every RECONCILE_INTERVAL_MS (0 = off), never two at a time; stopping waits for a
 * running pass.
 */
import { chargeTransaction } from "./transactions";
import type {
	Mismatch,
	OrderStatusRow,
	Payment,
	ReconcileReport,
	Repair,
	RepairKind,
} from "../../../lib/contracts/payments";
import { chargeKey } from "../../../lib/domain/payment-status";
import {
	orderWithoutPayment,
	reconciliationProblems,
	repairFor,
	RepairAction,
	outcomeEvents,
	repairsNeedAlert,
	resolveProcessing,
} from "../../../lib/domain/payments";
import { nowIso } from "../../../lib/infra/ids";
import type { ChargeResult } from "../../../lib/infra/payment-provider";
import { countRepair } from "../../../lib/infra/repairs";
import type { AnyCtx, PaymentsThis } from "./types";

const BATCH = 1000;
const SCAN_LIMIT = 5000;
/** The start-up pass waits this long, so the node's other services are registered first. */
export const RECONCILE_STARTUP_DELAY_MS = 1000;

export interface ReconciliationMethods {
	reconcile(ctx: AnyCtx | null, graceMs: number): Promise<ReconcileReport>;
	repair(ctx: AnyCtx | null, action: RepairAction, payment: Payment): Promise<RepairKind | null>;
	resolveStuckCharge(ctx: AnyCtx | null, payment: Payment): Promise<RepairKind | null>;
	resolveRefundsInFlight(ctx: AnyCtx | null, payment: Payment, graceMs: number, now: Date): Promise<Repair[]>;
	settlePendingPix(ctx: AnyCtx | null, payment: Payment): Promise<RepairKind | null>;
	ordersWithoutPayment(payments: Payment[], graceMs: number): Promise<Mismatch[]>;
	runReconciliation(): Promise<void>;
}

type This = PaymentsThis;

export const reconciliationMethods: ReconciliationMethods & ThisType<This> = {
	async reconcile(this: This, ctx: AnyCtx | null, graceMs: number): Promise<ReconcileReport> {
		const now = new Date();
		// The newest payments: what the saga may have left unfinished is recent.
		const payments = await this.findEntities({ query: {}, sort: ["-createdAt"], limit: SCAN_LIMIT });
		const mismatches: Mismatch[] = [];
		const repairs: Repair[] = [];
		for (let i = 0; i < payments.length; i += BATCH) {
			const batch = payments.slice(i, i + BATCH);
			const orders = await this.broker.call<OrderStatusRow[], { orderIds: string[] }>("orders.statusesFor", {
				orderIds: batch.map((p) => p.orderId),
			});
			const byId = new Map(orders.map((o) => [o.orderId, o]));
			for (const p of batch) {
				const problems = reconciliationProblems(byId.get(p.orderId) || null, { ...p, paymentId: p._id }, now, graceMs);
				for (const problem of problems) {
					const action = repairFor(problem);
					const kind = action ? await this.repair(ctx, action, p) : null;
					if (kind) repairs.push({ kind, orderId: p.orderId, paymentId: p._id });
					else mismatches.push({ orderId: p.orderId, paymentId: p._id, problem });
				}
				repairs.push(...(await this.resolveRefundsInFlight(ctx, p, graceMs, now)));
			}
		}
		mismatches.push(...(await this.ordersWithoutPayment(payments, graceMs)));
		// Every PIX still waiting for the customer (not only the newest payments): paid or expired?
		const pendingPix = await this.findEntities({
			query: { status: "pending", method: "pix" },
			sort: ["createdAt"],
			limit: SCAN_LIMIT,
		});
		for (const p of pendingPix) {
			const kind = await this.settlePendingPix(ctx, p);
			if (kind) repairs.push({ kind, orderId: p.orderId, paymentId: p._id });
		}
		for (const r of repairs) {
			this.logger.info(
				{ orderId: r.orderId, paymentId: r.paymentId, repair: r.kind },
				`Reconciliation repaired ${r.kind}`,
			);
			countRepair(this.broker, r.kind);
		}
		for (const m of mismatches) await this.publishEvent("reconciliation.mismatch", m, ctx);
		if (repairsNeedAlert(repairs.length, this.settings.reconcileAlertThreshold))
			await this.publishEvent(
				"reconciliation.mismatch",
				{ orderId: null, paymentId: null, problem: "too_many_repairs", repairs: repairs.length },
				ctx,
			);
		if (mismatches.length) this.logger.warn(`Reconciliation found ${mismatches.length} mismatch(es)`);
		return { checked: payments.length, mismatches, repairs };
	},

	/** Makes one repair; the kind made, or null when it could not (then the problem is reported). */
	async repair(this: This, ctx: AnyCtx | null, action: RepairAction, p: Payment): Promise<RepairKind | null> {
		try {
			switch (action) {
				case "resolve_processing":
					return await this.resolveStuckCharge(ctx, p);
				case "refund_cancelled": {
					const refunded = await this.refundRemainder(ctx, p, "order cancelled (reconciliation)", true);
					return refunded ? "cancelled_refunded" : null;
				}
				case "republish_processed": {
					// Recorded with a mark of the repair, in one write; only if the payment is still as read.
					const marked = await this.compareAndSet(
						ctx,
						{ _id: p._id, status: p.status, updatedAt: p.updatedAt },
						{ $set: { republishedAt: nowIso() } },
						outcomeEvents(p),
					);
					return marked ? "processed_republished" : null;
				}
			}
		} catch (err) {
			this.logger.warn({ orderId: p.orderId, paymentId: p._id }, `Repair ${action} failed: ${(err as Error).message}`);
			return null;
		}
	},

	/** A charge left `processing` (a crash between the write and the provider's answer). */
	async resolveStuckCharge(this: This, ctx: AnyCtx | null, p: Payment): Promise<RepairKind | null> {
		let payment = p;
		if (!payment.chargeKey) {
			// Written before keys existed: give the attempt its key first (the provider never saw one).
			const key = chargeKey(p._id, Math.max(1, p.attempts));
			const keyed = await this.compareAndSet(
				ctx,
				{ _id: p._id, status: "processing", chargeKey: { $exists: false } },
				{ $set: { chargeKey: key } },
			);
			if (!keyed) return null;
			payment = keyed;
		}
		const key = payment.chargeKey!;
		const known = await this.provider.status(key);
		let result: ChargeResult;
		let kind: RepairKind;
		if (resolveProcessing(known.status) === "charge_again") {
			result = await this.askProvider(payment, key, payment.pendingToken ?? null);
			kind = "processing_recharged";
		} else {
			if (known.status === "unknown" || known.status === "refunded") return null;
			result = known;
			kind = known.status === "declined" ? "processing_failed" : "processing_succeeded";
		}
		const settled = await this.recordCharge(ctx, payment, key, result);
		if (settled.status === "processing") return null;
		if (settled.status === "pending") this.scheduleAutoPix(settled._id);
		if (settled.orderCancelled) await this.settleCancelled(ctx, settled, "order cancelled while paying");
		return kind;
	},

	/**
	 * A PIX still `pending`: the provider's status for its charge key says whether the customer paid
	 * (→ captured, payment.processed) or the charge expired (→ failed "pix_expired", payment.failed);
	 * null while it is still waiting for the customer, or when another write came first.
	 */
	async settlePendingPix(this: This, ctx: AnyCtx | null, p: Payment): Promise<RepairKind | null> {
		if (!p.chargeKey) return null;
		try {
			const known = await this.provider.status(p.chargeKey);
			if (known.status === "captured") return (await this.confirmPix(ctx, p._id)) ? "pix_confirmed" : null;
			if (known.status !== "declined") return null;
			const now = nowIso();
			const set = { status: "failed" as const, failureReason: known.reason, updatedAt: now };
			const expired = await this.compareAndSet(
				ctx,
				{ _id: p._id, status: "pending", chargeKey: p.chargeKey },
				{
					$set: set,
					$push: {
						transactions: chargeTransaction({
							method: "pix",
							status: "failed",
							amountCents: p.amountCents,
							at: now,
							reason: known.reason,
						}),
					},
				},
				outcomeEvents({ ...p, ...set }),
			);
			return expired ? "pix_expired" : null;
		} catch (err) {
			this.logger.warn({ orderId: p.orderId, paymentId: p._id }, `PIX settlement failed: ${(err as Error).message}`);
			return null;
		}
	},

	/** Refunds reserved and sent, their outcome never recorded: asked again under the same key. */
	async resolveRefundsInFlight(
		this: This,
		ctx: AnyCtx | null,
		p: Payment,
		graceMs: number,
		now: Date,
	): Promise<Repair[]> {
		const done: Repair[] = [];
		for (const [refundId, f] of Object.entries(p.refundsInFlight || {})) {
			if (now.getTime() - Date.parse(f.at) < graceMs) continue;
			try {
				const current = (await this.findEntity(p._id)) || p;
				if (!current.refundsInFlight?.[refundId]) continue;
				await this.refund(ctx, current, f.amountCents, f.reason, f.by, refundId);
				done.push({ kind: "refund_resolved", orderId: p.orderId, paymentId: p._id });
			} catch (err) {
				this.logger.warn(
					{ orderId: p.orderId, paymentId: p._id, refundId },
					`Refund retry failed: ${(err as Error).message}`,
				);
			}
		}
		return done;
	},

	/** Orders of the last day still `created` with no payment at all (order.created lost or never handled). */
	async ordersWithoutPayment(this: This, payments: Payment[], graceMs: number): Promise<Mismatch[]> {
		const since = new Date(Date.now() - 24 * 3600_000).toISOString();
		const orderIds = await this.broker.call<string[], { since: string; limit: number }>("orders.changedSince", {
			since,
			limit: SCAN_LIMIT,
		});
		const seen = new Set(payments.map((p) => p.orderId));
		const unseen = orderIds.filter((orderId) => !seen.has(orderId));
		const paid = new Set((await this.findEntities({ query: { orderId: { $in: unseen } } })).map((p) => p.orderId));
		const unpaidIds = unseen.filter((orderId) => !paid.has(orderId));
		const found: Mismatch[] = [];
		for (let i = 0; i < unpaidIds.length; i += BATCH) {
			const orders = await this.broker.call<OrderStatusRow[], { orderIds: string[] }>("orders.statusesFor", {
				orderIds: unpaidIds.slice(i, i + BATCH),
			});
			for (const o of orders)
				if (orderWithoutPayment(o, false, new Date(), graceMs))
					found.push({ orderId: o.orderId, paymentId: null, problem: "order_without_payment" });
		}
		return found;
	},

	/** One pass of the "reconcile" timer, with what it did logged. */
	async runReconciliation(this: This) {
		// Nothing to compare yet: no call to orders (which may not be up).
		if ((await this.countEntities({})) === 0) return;
		const report = await this.reconcile(null, this.settings.reconcileGraceMs);
		if (report.repairs.length || report.mismatches.length)
			this.logger.info(`[reconcile] ${report.repairs.length} repair(s), ${report.mismatches.length} mismatch(es)`);
	},
};
