/**
 * The marketplace's money rules: the platform's commission, the courier's fee, the split of a
 * delivered order into ledger amounts, the reversal of a refund, statements and payouts. All
 * amounts are integer cents (BRL); every split balances to the cent:
 *
 *   grossCents = commissionCents + courierFeeCents + supplierNetCents
 *
 * Rounding: a percentage of an amount is rounded half up to the cent (`percentOf`); the courier's
 * per-km part is rounded half up once, on the whole distance; the supplier's net is what is left, so
 * no cent is lost or made by rounding. A refund reverses the same shares in proportion, computed on
 * the cumulative refunded amount (so several partial refunds add up to exactly the full reversal).
 */

/** 10 000 basis points = 100 %. */
export const MAX_BPS = 10_000;

export interface CourierFeeRule {
	baseCents: number;
	perKmCents: number;
}

export interface Split {
	grossCents: number;
	commissionCents: number;
	courierFeeCents: number;
	supplierNetCents: number;
}

/** `bps` basis points of `cents`, rounded half up (half away from zero for negative amounts). */
export function percentOf(cents: number, bps: number): number {
	if (!Number.isInteger(cents) || !Number.isInteger(bps)) throw new Error("cents and bps must be integers");
	const sign = cents < 0 ? -1 : 1;
	return sign * Math.floor((Math.abs(cents) * bps + MAX_BPS / 2) / MAX_BPS);
}

/** `numerator / denominator` of `cents`, rounded half up; integers only. */
export function shareOf(cents: number, numerator: number, denominator: number): number {
	if (denominator <= 0) return 0;
	const sign = cents < 0 ? -1 : 1;
	return sign * Math.floor((2 * Math.abs(cents) * numerator + denominator) / (2 * denominator));
}

/** The courier's fee for a delivery of `distanceKm`: base plus per km, rounded half up once. */
export function courierFeeCents(distanceKm: number, rule: CourierFeeRule): number {
	const km = Number.isFinite(distanceKm) && distanceKm > 0 ? distanceKm : 0;
	// Metres first, so that float noise (2.675 km) does not decide the rounding.
	const metres = Math.round(km * 1000);
	return rule.baseCents + shareOf(rule.perKmCents, metres, 1000);
}

/**
 * The split of a delivered order's gross amount. The commission is taken first; the courier's fee
 * is capped at what is left (a tiny order never leaves the supplier owing); no courier, no fee.
 */
export function saleSplit(grossCents: number, commissionBps: number, feeCents: number | null): Split {
	if (!Number.isInteger(grossCents) || grossCents < 0) throw new Error("grossCents must be a non-negative integer");
	if (!Number.isInteger(commissionBps) || commissionBps < 0 || commissionBps > MAX_BPS)
		throw new Error(`commissionBps must be an integer from 0 to ${MAX_BPS}`);
	const commissionCents = percentOf(grossCents, commissionBps);
	const courierFee = Math.max(0, Math.min(feeCents ?? 0, grossCents - commissionCents));
	return {
		grossCents,
		commissionCents,
		courierFeeCents: courierFee,
		supplierNetCents: grossCents - commissionCents - courierFee,
	};
}

/** The part of `sale` reversed once `refundedCents` of it were refunded in all (capped at the gross). */
function reversedShare(sale: Split, refundedCents: number): Split {
	const refunded = Math.max(0, Math.min(refundedCents, sale.grossCents));
	const commissionCents = shareOf(sale.commissionCents, refunded, sale.grossCents);
	const courierFee = shareOf(sale.courierFeeCents, refunded, sale.grossCents);
	return {
		grossCents: refunded,
		commissionCents,
		courierFeeCents: courierFee,
		supplierNetCents: refunded - commissionCents - courierFee,
	};
}

/**
 * The (negative) reversal entry for a refund of `refundCents`, after `alreadyRefundedCents` were
 * refunded before. Computed as the difference of cumulative shares, so the refunds of an order
 * reverse at most the sale, and all of it exactly when the whole gross was refunded.
 */
export function reversalSplit(sale: Split, alreadyRefundedCents: number, refundCents: number): Split {
	const before = reversedShare(sale, alreadyRefundedCents);
	const after = reversedShare(sale, alreadyRefundedCents + refundCents);
	return {
		grossCents: before.grossCents - after.grossCents,
		commissionCents: before.commissionCents - after.commissionCents,
		courierFeeCents: before.courierFeeCents - after.courierFeeCents,
		supplierNetCents: before.supplierNetCents - after.supplierNetCents,
	};
}

export function sumSplits(splits: Split[]): Split {
	const total: Split = { grossCents: 0, commissionCents: 0, courierFeeCents: 0, supplierNetCents: 0 };
	for (const s of splits) {
		total.grossCents += s.grossCents;
		total.commissionCents += s.commissionCents;
		total.courierFeeCents += s.courierFeeCents;
		total.supplierNetCents += s.supplierNetCents;
	}
	return total;
}

/** True when gross = commission + courier fee + supplier net, to the cent. */
export function balances(s: Split): boolean {
	return s.grossCents === s.commissionCents + s.courierFeeCents + s.supplierNetCents;
}

// ── Statements and payouts ──────────────────────────────────────────────────────────────────

export type Party = "supplier" | "courier";
export const PARTIES: Party[] = ["supplier", "courier"];

/** Statements are stored with analytics' reports under these kinds. */
export const STATEMENT_KINDS = ["supplier_statement", "courier_statement"] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];
export const statementKind = (party: Party): StatementKind => `${party}_statement`;

/** A ledger entry as statements and payouts read it. */
export interface EntryLike extends Split {
	orderId: string;
	kind: "sale" | "reversal";
	at: string;
	supplierId: string;
	courierId?: string;
	distanceKm?: number;
	supplierPayoutId?: string;
	courierPayoutId?: string;
}

/** What the party is owed for an entry: the supplier its net, the courier its fee. */
export function amountFor(party: Party, entry: Split): number {
	return party === "supplier" ? entry.supplierNetCents : entry.courierFeeCents;
}

export function partyIdOf(party: Party, entry: EntryLike): string | null {
	return (party === "supplier" ? entry.supplierId : entry.courierId) || null;
}

export function payoutIdOf(party: Party, entry: EntryLike): string | null {
	return (party === "supplier" ? entry.supplierPayoutId : entry.courierPayoutId) || null;
}

export const PAYOUT_FIELD: Record<Party, "supplierPayoutId" | "courierPayoutId"> = {
	supplier: "supplierPayoutId",
	courier: "courierPayoutId",
};

export interface PayoutLine {
	partyId: string;
	entries: number;
	amountCents: number;
}

/** A payout run's lines: per party id, the entries paid and the amount (sorted by party id). */
export function payoutLines(party: Party, entries: EntryLike[]): PayoutLine[] {
	const byParty = new Map<string, PayoutLine>();
	for (const e of entries) {
		const partyId = partyIdOf(party, e);
		if (!partyId) continue;
		const line = byParty.get(partyId) ?? { partyId, entries: 0, amountCents: 0 };
		line.entries += 1;
		line.amountCents += amountFor(party, e);
		byParty.set(partyId, line);
	}
	return [...byParty.values()].sort((a, b) => (a.partyId < b.partyId ? -1 : a.partyId > b.partyId ? 1 : 0));
}

export interface StatementColumn {
	key: string;
	header: string;
}

export interface Statement {
	party: Party;
	partyId: string;
	from: string;
	to: string;
	columns: StatementColumn[];
	rows: Record<string, string | number | null>[];
	totals: Split & { amountDueCents: number; paidCents: number; unpaidCents: number; entries: number };
	balanced: boolean;
}

const COLUMNS: StatementColumn[] = [
	{ key: "at", header: "at" },
	{ key: "orderId", header: "order" },
	{ key: "kind", header: "kind" },
	{ key: "distanceKm", header: "distance_km" },
	{ key: "grossCents", header: "gross_cents" },
	{ key: "commissionCents", header: "commission_cents" },
	{ key: "courierFeeCents", header: "courier_fee_cents" },
	{ key: "supplierNetCents", header: "supplier_net_cents" },
	{ key: "amountDueCents", header: "amount_due_cents" },
	{ key: "payoutId", header: "payout" },
];

/** A party's statement over entries already chosen (in its range), oldest first, with totals. */
export function statement(party: Party, partyId: string, from: string, to: string, entries: EntryLike[]): Statement {
	const mine = entries
		.filter((e) => partyIdOf(party, e) === partyId)
		.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.orderId < b.orderId ? -1 : 1));
	const rows = mine.map((e) => ({
		at: e.at,
		orderId: e.orderId,
		kind: e.kind,
		distanceKm: e.distanceKm ?? null,
		grossCents: e.grossCents,
		commissionCents: e.commissionCents,
		courierFeeCents: e.courierFeeCents,
		supplierNetCents: e.supplierNetCents,
		amountDueCents: amountFor(party, e),
		payoutId: payoutIdOf(party, e),
	}));
	const sum = sumSplits(mine);
	const amountDueCents = mine.reduce((n, e) => n + amountFor(party, e), 0);
	const paidCents = mine.filter((e) => payoutIdOf(party, e)).reduce((n, e) => n + amountFor(party, e), 0);
	return {
		party,
		partyId,
		from,
		to,
		columns: COLUMNS,
		rows,
		totals: { ...sum, amountDueCents, paidCents, unpaidCents: amountDueCents - paidCents, entries: mine.length },
		balanced: balances(sum) && mine.every(balances),
	};
}

const DAY_MS = 86_400_000;

/** The UTC day `YYYY-MM-DD` as a [from, to) range of ISO times; null when it is not a real day. */
export function dayRange(day: string): { from: string; to: string } | null {
	if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
	const from = Date.parse(`${day}T00:00:00.000Z`);
	if (!Number.isFinite(from) || new Date(from).toISOString().slice(0, 10) !== day) return null;
	return { from: new Date(from).toISOString(), to: new Date(from + DAY_MS).toISOString() };
}

/** The UTC day before the one `now` falls in (`YYYY-MM-DD`): the day a daily statement covers. */
export function previousDay(now: Date): string {
	return new Date(now.getTime() - DAY_MS).toISOString().slice(0, 10);
}
