/**
 * The IO of stock reservations for the products service: stock moves as compare-and-sets on the
 * product (with their inventory.updated event, the outbox), and the reservation records' life
 * (reserving → reserved → released | committed, each step idempotent per order). The rules are
 * pure functions in lib/domain/stock.ts; this file only reads, writes and retries.
 */
import { Context } from "moleculer";
import type { PendingEvent } from "../contracts/events";
import type { Product, ReservationItem, StockOutcome, StockReservation, SweepResult } from "../contracts/products";
import type { OrderStatus } from "../domain/order-status";
import {
	finishOutcome,
	inventoryUpdate,
	needsOrderStatus,
	StockChange,
	stockWrite,
	sweepAction,
	totalUnits,
} from "../domain/stock";
import { appError, conflict } from "./errors";
import { nowIso } from "./ids";
import { Collection, Filter, UniqueViolationError, UpdateSpec } from "./store/types";

/** What the ledger needs from the service (DbMethods of its products). */
export interface StockLedgerDeps {
	findProduct(id: string): Promise<Product | null>;
	findProducts(): Promise<Product[]>;
	compareAndSet(
		ctx: Context | null,
		query: Filter,
		update: UpdateSpec,
		events: PendingEvent[],
	): Promise<Product | null>;
	reservations: Collection<StockReservation>;
}

export interface Repair {
	reservation: StockReservation;
	action: "release" | "commit";
	orderStatus: OrderStatus | undefined;
}

const MAX_CAS_ATTEMPTS = 1000;
const SWEEP_BATCH = 500;
/** A release/commit claimed but not settled for this long was interrupted: the sweep finishes it. */
const UNSETTLED_AFTER_MS = 5_000;

/** Open reservations (reserving or reserved) after a position in (createdAt, _id) order; null: from the start. */
function openReservationsAfter(after: { createdAt: string; _id: string } | null): Filter {
	const open: Filter = { state: { $in: ["reserving", "reserved"] } };
	if (!after) return open;
	return {
		$and: [
			open,
			{ $or: [{ createdAt: { $gt: after.createdAt } }, { createdAt: after.createdAt, _id: { $gt: after._id } }] },
		],
	};
}

export const outOfStock = (productId: string, available: number) =>
	appError("OUT_OF_STOCK", undefined, { productId, available });

export class StockLedger {
	constructor(private readonly deps: StockLedgerDeps) {}

	/**
	 * One stock move of one product, recorded with its inventory.updated event, as a compare-and-set
	 * on the levels read (retried when another move came first). Null: not enough stock.
	 */
	async move(ctx: Context | null, productId: string, orderId: string | null, change: StockChange) {
		for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
			const product = await this.deps.findProduct(productId);
			if (!product) return null;
			const write = stockWrite(product, orderId, change, nowIso());
			if (write === "done" || write === null) return write === "done" ? product : null;
			const event: PendingEvent = { type: "inventory.updated", data: inventoryUpdate(product, write.step) };
			const moved = await this.deps.compareAndSet(ctx, write.query, write.update, [event]);
			if (moved) return moved;
		}
		throw conflict("The stock is changing too fast; try again");
	}

	/**
	 * Records the reservation (`reserving`), takes its items, marks it `reserved`. Idempotent per
	 * order: a reserve racing another for the same order returns the winner's reservation.
	 */
	async reserve(ctx: Context, record: StockReservation): Promise<StockReservation> {
		const reservations = this.deps.reservations;
		try {
			await reservations.insert(record);
		} catch (err) {
			if (!(err instanceof UniqueViolationError)) throw err;
			const other = await reservations.findById(record._id);
			if (other?.state === "reserved") return other;
			throw conflict("This order's stock is already being reserved");
		}
		await this.take(ctx, record.orderId, record.items);
		const reserved = await reservations.updateOne(
			{ _id: record._id, state: "reserving" },
			{ $set: { state: "reserved", updatedAt: nowIso() } },
		);
		if (!reserved) throw conflict("This order's reservation was given up; place the order again");
		return reserved;
	}

	/** Takes every item or none: what was taken is given back when one is short (409 OUT_OF_STOCK). */
	async take(ctx: Context, orderId: string, wanted: ReservationItem[]): Promise<void> {
		const taken: ReservationItem[] = [];
		for (const item of wanted) {
			if (await this.move(ctx, item.productId, orderId, { kind: "reserve", quantity: item.quantity })) {
				taken.push(item);
				continue;
			}
			for (const back of taken)
				await this.move(ctx, back.productId, orderId, { kind: "release", quantity: back.quantity });
			// A refused order leaves nothing behind: not even the reservation record.
			await this.deps.reservations.removeMany({ _id: orderId, state: "reserving" });
			const product = await this.deps.findProduct(item.productId);
			throw outOfStock(item.productId, product ? product.stock : 0);
		}
	}

	/**
	 * Release or commit: claims the reservation (its state, `settled: false`), then moves each item's
	 * stock (idempotent per order) and marks it settled. A retry finishes what a crash left.
	 */
	async finish(
		ctx: Context | null,
		orderId: string,
		wanted: "released" | "committed",
		by?: "sweep",
		early?: boolean,
	): Promise<StockOutcome> {
		const claim = { state: wanted, settled: false, updatedAt: nowIso(), ...(by ? { repairedBy: by } : {}) };
		const reservations = this.deps.reservations;
		const claimed = await reservations.updateOne(
			{ _id: orderId, state: "reserved" },
			{ $set: { ...claim, ...(early ? { committedEarly: true } : {}) } },
		);
		const reservation = claimed ?? (await reservations.findById(orderId));
		if (!reservation || reservation.state === "reserving")
			return { orderId, state: reservation ? reservation.state : "none", changed: false };
		if (claimed) {
			await this.settle(ctx, claimed);
			return { orderId, state: wanted, changed: true };
		}
		const outcome = finishOutcome(reservation.state, wanted, !!reservation.committedEarly);
		if (outcome === "conflict")
			throw conflict(`This order's stock was already ${reservation.state}`, { state: reservation.state });
		if (outcome === "return") {
			const returning = await reservations.updateOne(
				{ _id: orderId, state: "committed", committedEarly: true },
				{ $set: { ...claim, state: "released", returning: true } },
			);
			if (returning) await this.settle(ctx, returning);
			return { orderId, state: "released", changed: !!returning };
		}
		if (reservation.settled === false) await this.settle(ctx, reservation);
		return { orderId, state: reservation.state, changed: false };
	}

	async settle(ctx: Context | null, r: StockReservation): Promise<void> {
		const kind = r.returning ? "return" : r.state === "released" ? "release" : "commit";
		for (const item of r.items) await this.move(ctx, item.productId, r.orderId, { kind, quantity: item.quantity });
		await this.deps.reservations.updateOne({ _id: r._id, state: r.state }, { $set: { settled: true } });
	}

	/** Sum of `reserved` over products vs the units of open reservations (equal: no drift). */
	async drift() {
		const [products, open] = await Promise.all([
			this.deps.findProducts(),
			this.deps.reservations.find({ query: { state: "reserved" } }),
		]);
		return {
			reservedUnits: products.reduce((sum, p) => sum + (p.reserved || 0), 0),
			openReservationUnits: open.reduce((sum, r) => sum + totalUnits(r.items), 0),
		};
	}

	/**
	 * Finishes interrupted releases/commits, then repairs open reservations that would leak
	 * (lib/domain/stock.ts sweepAction). `statuses` answers null when orders cannot be asked: then
	 * only what needs no order status is repaired. `onRepair` is told of each repair.
	 */
	async sweep(
		statuses: (orderIds: string[]) => Promise<Map<string, OrderStatus> | null>,
		onRepair: (repair: Repair) => void,
	): Promise<SweepResult> {
		const result = { released: 0, committed: 0 };
		for (let lastId = ""; ;) {
			const unsettled = await this.deps.reservations.find({
				query: { settled: false, _id: { $gt: lastId } },
				sort: { _id: 1 },
				limit: SWEEP_BATCH,
			});
			for (const r of unsettled)
				if (Date.now() - Date.parse(r.updatedAt) > UNSETTLED_AFTER_MS) await this.settle(null, r);
			if (unsettled.length < SWEEP_BATCH) break;
			lastId = unsettled[unsettled.length - 1]._id;
		}
		const now = new Date();
		// Every open reservation, a page at a time (keyset on createdAt, _id: a repair takes a
		// reservation out of the filter, so an offset would skip some).
		let after: { createdAt: string; _id: string } | null = null;
		for (;;) {
			const page: StockReservation[] = await this.deps.reservations.find({
				query: openReservationsAfter(after),
				sort: { createdAt: 1, _id: 1 },
				limit: SWEEP_BATCH,
			});
			if (page.length === 0) break;
			const asked = page.filter(needsOrderStatus).map((r) => r.orderId);
			const known = asked.length ? await statuses(asked) : new Map<string, OrderStatus>();
			for (const r of page) {
				if (needsOrderStatus(r) && !known) continue; // orders did not answer: judge it next time
				const orderStatus = known?.get(r.orderId);
				const action = sweepAction(r, orderStatus, now);
				if (action === "keep") continue;
				if (r.state === "reserving") {
					for (const item of r.items)
						await this.move(null, item.productId, r.orderId, { kind: "release", quantity: item.quantity });
					await this.deps.reservations.removeMany({ _id: r._id, state: "reserving" });
				} else {
					const early = action === "commit" && orderStatus !== "delivered";
					await this.finish(null, r.orderId, action === "release" ? "released" : "committed", "sweep", early);
				}
				result[action === "release" ? "released" : "committed"]++;
				onRepair({ reservation: r, action, orderStatus });
			}
			if (page.length < SWEEP_BATCH) break;
			const last = page[page.length - 1];
			after = { createdAt: last.createdAt, _id: last._id };
		}
		return result;
	}
}
