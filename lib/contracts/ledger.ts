/**
 * The marketplace's ledger (kept by analytics): entries per delivered order and per refund, the
 * suppliers' commission rates, payout runs; and the params of their actions. Money in integer cents.
 */
import type { StoredDoc } from "../infra/store/types";
import type { EntryLike, Party, PayoutLine } from "../domain/ledger";
import { PARTIES } from "../domain/ledger";
import { idParam, isoTimeParam } from "./params";

/**
 * Kind `ledger`: `sale:<orderId>` once per delivered order, `refund:<refundId>` once per refund of
 * a delivered order (negative amounts). The payout ids are set (once) when a run pays the entry.
 */
export interface LedgerEntry extends StoredDoc, EntryLike {
	commissionBps: number;
	customerId?: string;
	paymentMethod?: string;
	eventId: string;
	/** Sales only: refund id → the cumulative refunded cents before and after it. */
	reversals?: Record<string, { before: number; after: number; at: string }>;
	refundedCents?: number;
}

/** Kind `commissions`: `_id` = the supplier id. */
export interface CommissionRate extends StoredDoc {
	commissionBps: number;
	updatedBy: string;
	updatedAt: string;
}

/** Kind `payouts`: `_id` = the run id given by the admin (or generated). */
export interface PayoutRun extends StoredDoc {
	party: Party;
	until: string;
	requestedBy: string;
	startedAt: string;
	completedAt?: string;
	status: "running" | "completed";
	entries: number;
	totalCents: number;
	lines: PayoutLine[];
	/** Entry ids this run paid (the audit trail of what). */
	entryIds: string[];
}

export interface SetCommissionParams {
	supplierId: string;
	commissionBps: number | null;
}
export interface StatementParams {
	party: Party;
	partyId?: string;
	day?: string;
	from?: string;
	to?: string;
	format?: "json" | "csv";
}
export interface RunPayoutParams {
	party: Party;
	runId?: string;
	until?: string;
}
export interface ListEntriesParams {
	orderId: string;
}

const day = { type: "string", pattern: /^\d{4}-\d{2}-\d{2}$/, optional: true } as const;
const range = {
	party: { type: "enum", values: PARTIES },
	partyId: { ...idParam, optional: true },
	day,
	from: { ...isoTimeParam, optional: true },
	to: { ...isoTimeParam, optional: true },
} as const;

export const LEDGER_PARAMS = {
	getCommission: { supplierId: idParam },
	setCommission: {
		supplierId: idParam,
		commissionBps: { type: "number", integer: true, min: 0, max: 5000, nullable: true },
	},
	statement: { ...range, format: { type: "enum", values: ["json", "csv"], default: "json" } },
	createStatement: range,
	runPayout: {
		party: { type: "enum", values: PARTIES },
		runId: { type: "string", min: 3, max: 64, pattern: /^[A-Za-z0-9_.:-]+$/, optional: true },
		until: { ...isoTimeParam, optional: true },
	},
	getPayout: { id: { type: "string", min: 1, max: 64 } },
	entriesOf: { orderId: idParam },
} as const;
