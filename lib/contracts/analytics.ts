/** Stored shapes of the analytics service, and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import type { Fact, Granularity, ReportKind, ReportTable } from "../domain/metrics-buckets";
import { GRANULARITIES, REPORT_KINDS } from "../domain/metrics-buckets";
import type { StatementKind } from "../domain/ledger";
import { STATEMENT_KINDS } from "../domain/ledger";
import { idParam, pageParams } from "./params";

/** A generated report: its table as JSON rows and as CSV. */
export interface Report extends StoredDoc {
	kind: ReportKind | StatementKind;
	/** Statements: the supplier or courier it is for (who may read it besides admins). */
	partyId?: string | null;
	totals?: Record<string, number>;
	from: string;
	to: string;
	supplierId: string | null;
	requestedBy: string;
	createdAt: string;
	rowCount: number;
	columns: ReportTable["columns"];
	rows: ReportTable["rows"];
	csv: string;
}

/** Kind "facts": one per event that moves a figure (`_id` = fact:<event id>). */
export type StoredFact = Fact & StoredDoc;

export interface RangeParams {
	from?: string;
	to?: string;
	supplierId?: string;
}
export interface MetricsParams extends RangeParams {
	granularity: Granularity;
}
export interface CreateReportParams extends RangeParams {
	kind: ReportKind;
}
export interface ListReportsParams {
	kind?: ReportKind | StatementKind;
	page: number;
	pageSize: number;
}
export interface ReportIdParams {
	id: string;
	format?: "csv" | "json";
}

const isoTime = { type: "string", max: 40, optional: true } as const;
const supplierIdParam = { type: "string", max: 64, optional: true } as const;

/** The actions' fastest-validator schemas. */
export const ANALYTICS_PARAMS = {
	metrics: {
		from: isoTime,
		to: isoTime,
		granularity: { type: "enum", values: GRANULARITIES, default: "hour" },
		supplierId: supplierIdParam,
	},
	createReport: {
		kind: { type: "enum", values: REPORT_KINDS },
		from: isoTime,
		to: isoTime,
		supplierId: supplierIdParam,
	},
	listReports: { kind: { type: "enum", values: [...REPORT_KINDS, ...STATEMENT_KINDS], optional: true }, ...pageParams },
	getReport: { id: idParam },
	downloadReport: { id: idParam, format: { type: "enum", values: ["csv", "json"], default: "csv" } },
	factOf: { eventId: { type: "string", max: 64 } },
} as const;
