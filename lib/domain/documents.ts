/**
 * Verification documents without a broker: which documents each role needs, what metadata each
 * carries, which file contents are accepted (by magic bytes, not by name), and how far a user's
 * verification has come.
 */
import Validator from "fastest-validator";
import { isValidCnpj, normalizeCnpj } from "./cnpj";
import type { PendingEvent } from "../contracts/events";
import type {
	PublicDocument,
	VerificationDocument,
	VerificationRequest,
	VerificationStatus,
} from "../contracts/verification";

export const SUPPLIER_DOCUMENTS = ["anp_authorization", "company_registration", "fire_safety_permit"] as const;
export const COURIER_DOCUMENTS = ["drivers_licence", "vehicle_document", "courier_training"] as const;
export const DOCUMENT_TYPES = [...SUPPLIER_DOCUMENTS, ...COURIER_DOCUMENTS] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export const REQUIRED_DOCUMENTS: Record<string, readonly DocumentType[]> = {
	supplier: SUPPLIER_DOCUMENTS,
	courier: COURIER_DOCUMENTS,
};

export function requiredDocuments(role: string): readonly DocumentType[] {
	return REQUIRED_DOCUMENTS[role] || [];
}

export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

export const DOCUMENT_STATUSES = ["pending_review", "approved", "rejected", "superseded"] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

export const LICENCE_CATEGORIES = ["A", "B", "C", "D", "E", "AB", "AC", "AD", "AE"] as const;
export const VEHICLE_TYPES = ["motorcycle", "car", "pickup", "van", "truck"] as const;
export const TRAINING_KINDS = ["dangerous_goods", "motorcycle_courier"] as const;

const date = { type: "string", pattern: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/ };
const docNumber = { type: "string", trim: true, pattern: /^[A-Za-z0-9][A-Za-z0-9./ -]{2,39}$/ };
// Old plates ABC1234 and Mercosul ABC1D23.
const plate = { type: "string", trim: true, pattern: /^[A-Za-z]{3}-?[0-9][A-Za-z0-9][0-9]{2}$/ };

const METADATA_SCHEMAS: Record<DocumentType, Record<string, unknown>> = {
	anp_authorization: { number: docNumber, validUntil: { ...date, optional: true } },
	company_registration: { cnpj: { type: "string", max: 20 }, legalName: { type: "string", max: 200, optional: true } },
	fire_safety_permit: { number: docNumber, validUntil: date },
	drivers_licence: {
		number: { type: "string", pattern: /^\d{9,11}$/, optional: true },
		category: { type: "enum", values: LICENCE_CATEGORIES },
		issueDate: date,
		validUntil: { ...date, optional: true },
	},
	vehicle_document: {
		vehicleType: { type: "enum", values: VEHICLE_TYPES },
		plate,
		hasSidecar: { type: "boolean", optional: true },
	},
	courier_training: {
		kind: { type: "enum", values: TRAINING_KINDS },
		number: { ...docNumber, optional: true },
		issueDate: date,
	},
};

const validator = new Validator();
const checks = Object.fromEntries(
	Object.entries(METADATA_SCHEMAS).map(([type, props]) => [
		type,
		validator.compile({ $$root: true, type: "object", strict: true, props }),
	]),
) as unknown as Record<DocumentType, (value: unknown) => true | { field: string; message?: string }[]>;

/** A document's metadata once validated: strings (numbers, dates, enums) and booleans. */
export type DocumentMetadata = Record<string, string | boolean>;

export interface MetadataProblem {
	field: string;
	message: string;
}

const today = (now: Date) => now.toISOString().slice(0, 10);
const isRealDate = (value: string) =>
	!Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);

/** Field problems of a document's metadata (empty when it is acceptable); trims strings in place. */
export function metadataProblems(type: DocumentType, metadata: unknown, now: Date): MetadataProblem[] {
	const result = checks[type](metadata);
	if (result !== true) return result.map((p) => ({ field: `metadata.${p.field}`, message: p.message || "invalid" }));
	const m = metadata as DocumentMetadata;
	const problems: MetadataProblem[] = [];
	for (const field of ["validUntil", "issueDate"])
		if (typeof m[field] === "string" && !isRealDate(m[field]))
			problems.push({ field: `metadata.${field}`, message: "not a calendar date" });
	if (problems.length) return problems;
	if (typeof m.validUntil === "string" && m.validUntil < today(now))
		problems.push({ field: "metadata.validUntil", message: "the document has expired" });
	if (typeof m.issueDate === "string" && m.issueDate > today(now))
		problems.push({ field: "metadata.issueDate", message: "the issue date is in the future" });
	if (type === "company_registration" && !isValidCnpj(String(m.cnpj)))
		problems.push({ field: "metadata.cnpj", message: "not a valid CNPJ (check digits)" });
	if (type === "vehicle_document" && m.vehicleType === "motorcycle" && m.hasSidecar !== true)
		problems.push({ field: "metadata.hasSidecar", message: "a motorcycle needs a sidecar to carry gas cylinders" });
	return problems;
}

/** Metadata as stored: normalized identifiers. */
export function normalizeMetadata(type: DocumentType, metadata: DocumentMetadata): DocumentMetadata {
	if (type === "company_registration") return { ...metadata, cnpj: normalizeCnpj(String(metadata.cnpj)) };
	if (type === "vehicle_document") return { ...metadata, plate: String(metadata.plate).replace("-", "").toUpperCase() };
	return metadata;
}

/** Licence letters a category allows: a higher professional category includes the lower ones. */
function licenceLetters(category: string): Set<string> {
	const letters = new Set(category.split(""));
	if (letters.has("E")) ["D", "C", "B"].forEach((l) => letters.add(l));
	if (letters.has("D")) ["C", "B"].forEach((l) => letters.add(l));
	if (letters.has("C")) letters.add("B");
	return letters;
}

const LETTER_FOR_VEHICLE: Record<string, string> = { motorcycle: "A", car: "B", pickup: "B", van: "B", truck: "C" };

export function licenceCoversVehicle(category: string, vehicleType: string): boolean {
	return licenceLetters(category).has(LETTER_FOR_VEHICLE[vehicleType]);
}

export const CONTENT_TYPES = ["application/pdf", "image/jpeg", "image/png"] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

const SIGNATURES: { type: ContentType; bytes: number[] }[] = [
	{ type: "application/pdf", bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] }, // %PDF-
	{ type: "image/png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
	{ type: "image/jpeg", bytes: [0xff, 0xd8, 0xff] },
];

/** The content type the bytes really are, or null when they are none of PDF, JPEG, PNG. */
export function sniffContentType(head: Buffer): ContentType | null {
	const match = SIGNATURES.find((s) => head.length >= s.bytes.length && s.bytes.every((b, i) => head[i] === b));
	return match ? match.type : null;
}

/** File name extensions (lower case) and the content each stands for. */
const EXTENSION_TYPES: Record<string, ContentType> = {
	pdf: "application/pdf",
	png: "image/png",
	jpg: "image/jpeg",
	jpeg: "image/jpeg",
};

/** Declared part types that say nothing about the content (curl's default, or none at all). */
const UNDECLARED_TYPES = new Set(["", "application/octet-stream", "binary/octet-stream"]);
/** A declared part type as it maps to ours (browsers and tools sometimes say image/jpg or image/pjpeg). */
const DECLARED_ALIASES: Record<string, ContentType> = { "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg" };

/** What the client said the file is: its name and the part's Content-Type. */
export interface DeclaredFile {
	filename?: string | null;
	mimetype?: string | null;
}

/**
 * True when the name or the declared type says something other than the bytes are: a PNG named
 * scan.pdf, a PDF sent as image/png, or a file named .exe / sent as text/html whatever its bytes.
 * A name without an extension and an undeclared (octet-stream) type say nothing and pass.
 */
export function declaredTypeMismatch(actual: ContentType, declared: DeclaredFile): boolean {
	const name = (declared.filename ?? "").trim();
	const dot = name.lastIndexOf(".");
	if (dot > 0 && dot < name.length - 1) {
		const byName = EXTENSION_TYPES[name.slice(dot + 1).toLowerCase()];
		if (byName !== actual) return true;
	}
	const mime = (declared.mimetype ?? "").split(";")[0].trim().toLowerCase();
	if (UNDECLARED_TYPES.has(mime)) return false;
	return (DECLARED_ALIASES[mime] ?? mime) !== actual;
}

export function extensionFor(type: ContentType): string {
	return { "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png" }[type];
}

/** The client's file name for display only (never a path): last segment, printable, short. */
export function displayName(clientName: unknown): string {
	if (typeof clientName !== "string") return "document";
	const last = clientName.split(/[\\/]/).pop() || "";
	const clean = last
		.replace(/[\u0000-\u001f\u007f]/g, "")
		.replace(/^\.+/, "")
		.trim()
		.slice(0, 120);
	return clean || "document";
}

export interface StoredDocument {
	_id: string;
	type: DocumentType;
	status: DocumentStatus;
	uploadedAt: string;
	metadata: DocumentMetadata;
	reason?: string;
}

/** The document that counts for each type: the latest one not superseded. */
export function currentDocuments(docs: StoredDocument[]): Map<DocumentType, StoredDocument> {
	const current = new Map<DocumentType, StoredDocument>();
	for (const doc of docs) {
		if (doc.status === "superseded") continue;
		const seen = current.get(doc.type);
		if (!seen || seen.uploadedAt < doc.uploadedAt) current.set(doc.type, doc);
	}
	return current;
}

export type RequestStatus = "awaiting_documents" | "in_review" | "approved";

export interface Progress {
	status: RequestStatus;
	/** The current document of each required type: `id` is that document's (as in the documents list), null when missing. */
	documents: {
		id: string | null;
		type: DocumentType;
		status: DocumentStatus | "missing";
		reason: string | null;
	}[];
}

/** Where a verification stands: every required document approved, all in and waiting, or some missing/rejected. */
export function progress(required: readonly DocumentType[], docs: StoredDocument[]): Progress {
	const current = currentDocuments(docs);
	const documents = required.map((type) => {
		const doc = current.get(type);
		return {
			id: doc ? doc._id : null,
			type,
			status: doc ? doc.status : ("missing" as const),
			reason: doc && doc.status === "rejected" ? doc.reason || null : null,
		};
	});
	let status: RequestStatus = "awaiting_documents";
	if (documents.every((d) => d.status === "approved")) status = "approved";
	else if (documents.every((d) => d.status === "approved" || d.status === "pending_review")) status = "in_review";
	return { status, documents };
}

/** What approval establishes about a supplier, for the user record and the catalog. */
export function verifiedFacts(docs: StoredDocument[]): { anpAuthorization?: string; cnpj?: string } {
	const current = currentDocuments(docs);
	const facts: { anpAuthorization?: string; cnpj?: string } = {};
	const anp = current.get("anp_authorization");
	const registration = current.get("company_registration");
	if (anp && anp.status === "approved") facts.anpAuthorization = String(anp.metadata.number);
	if (registration && registration.status === "approved") facts.cnpj = String(registration.metadata.cnpj);
	return facts;
}

/** Why an upload of `type` cannot go into this request (before its content is looked at), or null. */
export type UploadProblem = "complete" | "not_required" | "empty" | "unsupported" | "mismatch";

/**
 * Rules that need the request and the bytes: the real content type (by magic bytes), or the
 * problem; a file whose name or declared type says otherwise than its bytes is refused.
 */
export function checkUploadContent(
	request: { status: RequestStatus; required: readonly DocumentType[] },
	type: DocumentType,
	content: Buffer,
	declared: DeclaredFile = {},
): { contentType: ContentType } | { problem: UploadProblem } {
	if (request.status === "approved") return { problem: "complete" };
	if (!request.required.includes(type)) return { problem: "not_required" };
	if (content.length === 0) return { problem: "empty" };
	const contentType = sniffContentType(content.subarray(0, 16));
	if (!contentType) return { problem: "unsupported" };
	return declaredTypeMismatch(contentType, declared) ? { problem: "mismatch" } : { contentType };
}

/**
 * Whether a new upload of `type` fits what is on file: an approved document stays (its id is
 * returned), and a licence must cover the vehicle on file (and the other way round).
 */
export function conflictWithCurrent(
	docs: StoredDocument[],
	type: DocumentType,
	metadata: DocumentMetadata,
): null | { approved: string } | { problem: MetadataProblem } {
	const current = currentDocuments(docs);
	const same = current.get(type);
	if (same && same.status === "approved") return { approved: same._id };
	const usable = (t: DocumentType) => {
		const d = current.get(t);
		return d && d.status !== "rejected" ? d.metadata : null;
	};
	const licence = type === "drivers_licence" ? metadata : usable("drivers_licence");
	const vehicle = type === "vehicle_document" ? metadata : usable("vehicle_document");
	if (licence && vehicle && !licenceCoversVehicle(String(licence.category), String(vehicle.vehicleType)))
		return {
			problem: {
				field: "metadata",
				message: `a category ${licence.category} licence does not cover a ${vehicle.vehicleType}`,
			},
		};
	return null;
}

/** A review decision on a document in `status`: the status to set, "repeat" (already so), or the conflict. */
export function reviewOutcome(
	status: DocumentStatus,
	decision: "approve" | "reject",
): { target: "approved" | "rejected" } | { repeat: true } | { conflict: string } {
	const target = decision === "approve" ? "approved" : "rejected";
	if (status === target) return { repeat: true };
	if (status === "superseded") return { conflict: "A newer upload replaced this document" };
	if (status !== "pending_review") return { conflict: `This document is already ${status}` };
	return { target };
}

// ── Records and events ───────────────────────────────────────────────────────────────────────

/** A checked upload: its type, normalized metadata, bytes and sniffed content type. */
export interface CheckedUpload {
	type: DocumentType;
	metadata: DocumentMetadata;
	content: { length: number };
	contentType: ContentType;
}

/** The stored record of a new upload (pending review); the client's name and type are kept for display only. */
export function newDocumentRecord(
	id: string,
	request: Pick<VerificationRequest, "_id" | "userId" | "role">,
	upload: CheckedUpload,
	extra: { declaredType: unknown; fileName: unknown; sha256: string; now: string },
): VerificationDocument {
	return {
		_id: id,
		userId: request.userId,
		role: request.role,
		requestId: request._id,
		type: upload.type,
		metadata: upload.metadata,
		contentType: upload.contentType,
		declaredType: typeof extra.declaredType === "string" ? extra.declaredType.slice(0, 100) : null,
		fileName: displayName(extra.fileName),
		size: upload.content.length,
		sha256: extra.sha256,
		status: "pending_review",
		uploadedAt: extra.now,
	};
}

/** document.uploaded: ids and type only (never the metadata). */
export function documentUploadedEvent(doc: VerificationDocument): PendingEvent {
	return {
		type: "document.uploaded",
		data: { userId: doc.userId, documentId: doc._id, type: doc.type, role: doc.role },
	};
}

export function rejectedEvent(doc: VerificationDocument, reason: string | undefined): PendingEvent {
	const data = {
		userId: doc.userId,
		role: doc.role,
		documentId: doc._id,
		documentType: doc.type,
		reason: reason || "",
	};
	return { type: "verification.rejected", data };
}

/** The event that goes with a request's move to `next` (none back to awaiting_documents). */
export function requestTransitionEvents(request: VerificationRequest, next: RequestStatus): PendingEvent[] {
	const data = {
		userId: request.userId,
		role: request.role,
		requestId: request._id,
		supplierId: request.supplierId || null,
	};
	if (next === "in_review") return [{ type: "verification.requested", data }];
	if (next === "approved") return [{ type: "verification.approved", data }];
	return [];
}

/** A user's verification as GET /api/verification/status shows it. */
export function statusView(
	request: VerificationRequest,
	required: Progress["documents"],
	documents: PublicDocument[],
): VerificationStatus {
	return {
		userId: request.userId,
		role: request.role,
		supplierId: request.supplierId || null,
		status: request.status,
		required,
		documents,
		createdAt: request.createdAt,
		approvedAt: request.approvedAt || null,
	};
}
