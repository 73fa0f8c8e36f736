/**
 * Verification: invited suppliers and couriers upload the documents their role needs; files are
 * checked by content, encrypted at rest (AES-256-GCM) under the documents folder with names we
 * generate; an admin reviews each one; when all are approved the user is activated.
 *
 * Two record kinds: a request per user (the main collection) and its documents (kind
 * "documents"). Request status: awaiting_documents → in_review (all in) → approved; a rejection
 * moves it back to awaiting_documents until a new upload replaces the document.
 */
import { Service, ServiceSchema } from "moleculer";
import { Readable } from "stream";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { AuthUser, Ctx, Page, PendingEvent } from "../lib/contracts";
import { pageParams } from "../lib/contracts/params";
import type { PublicUser, VerifiedFacts } from "../lib/contracts/users";
import type {
	DocumentIdParams,
	PublicDocument,
	ReviewParams,
	StatusParams,
	VerificationDocument,
	VerificationRequest,
	VerificationStatus,
} from "../lib/contracts/verification";
import type { Collection } from "../lib/infra/store/types";
import type { Role } from "../lib/domain/access";
import { config } from "../lib/infra/config";
import {
	checkUploadContent,
	CheckedUpload,
	conflictWithCurrent,
	DocumentMetadata,
	documentUploadedEvent,
	DocumentType,
	MAX_DOCUMENT_BYTES,
	MetadataProblem,
	newDocumentRecord,
	progress,
	rejectedEvent,
	requestTransitionEvents,
	requiredDocuments,
	reviewOutcome,
	statusView,
	verifiedFacts,
} from "../lib/domain/documents";
import {
	DocumentFiles,
	documentsFolder,
	downloadHeaders,
	fieldErrors,
	parseUploadFields,
	readUpload,
	UPLOAD_FIELDS,
	UPLOAD_ROUTE,
	uploadError,
} from "../lib/infra/document-files";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { parseKey, sha256Hex } from "../lib/infra/file-crypto";
import { newId, nowIso } from "../lib/infra/ids";
import { secret } from "../lib/infra/secrets";

interface Settings {
	rest: string;
}

type Upload = CheckedUpload & { content: Buffer };

interface Who {
	userId: string;
	role: Role;
	supplierId: string | null;
	inviteId: string | null;
}

interface OwnMethods {
	documents(): Collection<VerificationDocument>;
	openRequest(ctx: Ctx<unknown> | null, who: Who): Promise<VerificationRequest>;
	requestForUploader(ctx: Ctx<unknown>, me: AuthUser): Promise<VerificationRequest>;
	uploadFields(fields: unknown): { type: DocumentType; metadata: DocumentMetadata };
	checkAgainstCurrent(userId: string, type: DocumentType, metadata: DocumentMetadata): Promise<void>;
	storeDocument(ctx: Ctx<unknown>, request: VerificationRequest, upload: Upload): Promise<VerificationDocument>;
	applyReview(ctx: Ctx<ReviewParams>, doc: VerificationDocument): Promise<VerificationDocument>;
	syncRequest(ctx: Ctx<unknown>, requestId: string): Promise<VerificationRequest | null>;
	documentsOf(userId: string): Promise<VerificationDocument[]>;
	getDocumentOr404(id: string): Promise<VerificationDocument>;
	statusOf(userId: string): Promise<VerificationStatus>;
	reviewQueue(page: number, pageSize: number): Promise<Page<PublicDocument>>;
	publicDocument(doc: VerificationDocument): PublicDocument;
}

interface OwnState {
	files: DocumentFiles;
	ownsDocumentsDir: boolean;
	uploadFieldsCheck: (value: unknown) => true | MetadataProblem[];
}

type ThisService = Service<Settings> & DbMethods<VerificationRequest> & EventsMethods & OwnMethods & OwnState;

/** moleculer-web puts the part's file name and Content-Type in the call's meta. */
const stringMeta = (value: unknown): string | null => (typeof value === "string" ? value : null);

const businessEvents: BusinessEventHandlers<ThisService> = {
	async "invitation.accepted"(envelope, ctx) {
		const { userId, role, supplierId, inviteId } = envelope.data;
		if (requiredDocuments(role).length === 0) return;
		await this.openRequest(ctx, { userId, role: role as Role, supplierId: supplierId || null, inviteId });
	},
};

const VerificationService: ServiceSchema<Settings, ThisService> = {
	name: "verification",
	mixins: [
		DbMixin<VerificationRequest>({
			collection: "verification",
			indexes: [{ fields: { userId: 1 }, unique: true }, { fields: { status: 1 } }],
			// Document numbers (CNPJ, licences, permits) are encrypted at rest.
			kinds: { documents: { indexes: [{ fields: { userId: 1 } }, { fields: { status: 1 } }], sealed: ["metadata"] } },
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		/** Multipart: fields `type` and `metadata` (JSON) first, then one `file`. */
		upload: {
			rest: UPLOAD_ROUTE,
			auth: { roles: ["supplier", "courier"] },
			timeout: 120_000,
			async handler(this: ThisService, ctx: Ctx<Readable | undefined>): Promise<PublicDocument> {
				if (!ctx.params || typeof ctx.params.pipe !== "function")
					throw unprocessable("Send the document as a multipart file field", { field: "file" });
				const content = await readUpload(ctx.params, MAX_DOCUMENT_BYTES);
				const me = ctx.meta.user!;
				const { type, metadata } = this.uploadFields(ctx.meta.$multipart);
				const request = await this.requestForUploader(ctx, me);
				const declared = { filename: stringMeta(ctx.meta.filename), mimetype: stringMeta(ctx.meta.mimetype) };
				const checked = checkUploadContent(request, type, content, declared);
				if ("problem" in checked) throw uploadError(checked.problem, request, type);
				await this.checkAgainstCurrent(me.id, type, metadata);
				const doc = await this.storeDocument(ctx, request, { type, metadata, content, ...checked });
				await this.syncRequest(ctx, request._id);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/verification/documents/${doc._id}/file`;
				return this.publicDocument(doc);
			},
		},

		status: {
			rest: "GET /verification/status",
			params: {
				userId: { type: "string", max: 64, optional: true },
				queue: { type: "boolean", convert: true, optional: true },
				...pageParams,
			},
			async handler(this: ThisService, ctx: Ctx<StatusParams>): Promise<VerificationStatus | Page<PublicDocument>> {
				const me = ctx.meta.user!;
				if (ctx.params.queue) {
					if (me.role !== "admin") throw forbidden("Only admins see the review queue");
					return this.reviewQueue(ctx.params.page, ctx.params.pageSize);
				}
				const userId = ctx.params.userId || me.id;
				if (userId !== me.id && me.role !== "admin") throw forbidden("You can only see your own verification");
				return this.statusOf(userId);
			},
		},

		review: {
			rest: "PUT /verification/documents/:id/review",
			auth: { roles: ["admin"], mfa: true },
			params: {
				id: { type: "string", max: 64 },
				decision: { type: "enum", values: ["approve", "reject"] },
				reason: { type: "string", min: 3, max: 500, trim: true, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<ReviewParams>): Promise<PublicDocument> {
				if (ctx.params.decision === "reject" && !ctx.params.reason)
					throw fieldErrors([{ field: "reason", message: "A rejection needs a reason" }], "A rejection needs a reason");
				const doc = await this.getDocumentOr404(ctx.params.id);
				const reviewed = await this.applyReview(ctx, doc);
				await this.syncRequest(ctx, doc.requestId);
				return this.publicDocument(reviewed);
			},
		},

		download: {
			rest: "GET /verification/documents/:id/file",
			auth: { roles: ["admin"], mfa: true },
			params: { id: { type: "string", max: 64 } },
			async handler(this: ThisService, ctx: Ctx<DocumentIdParams>): Promise<Buffer> {
				const doc = await this.getDocumentOr404(ctx.params.id);
				const content = await this.files.read(doc._id, doc.sha256);
				ctx.meta.$responseType = doc.contentType;
				ctx.meta.$responseHeaders = downloadHeaders(doc);
				this.logger.info(
					{ requestId: ctx.requestID, documentId: doc._id, by: ctx.meta.user!.id },
					"document downloaded",
				);
				return content;
			},
		},
	},

	businessEvents,

	methods: {
		documents(this: ThisService): Collection<VerificationDocument> {
			return this.kind<VerificationDocument>("documents");
		},

		/** Idempotent: the one request of a user (unique on userId). */
		async openRequest(this: ThisService, ctx: Ctx<unknown> | null, who: Who): Promise<VerificationRequest> {
			const existing = await this.findOneEntity({ userId: who.userId });
			if (existing) return existing;
			const now = nowIso();
			const draft = { ...who, required: [...requiredDocuments(who.role)], status: "awaiting_documents" as const };
			const { doc } = await this.insertOrGet(ctx, { ...draft, createdAt: now, updatedAt: now }, { userId: who.userId });
			return doc;
		},

		/** The uploader's request; opened here if invitation.accepted has not arrived yet. */
		async requestForUploader(this: ThisService, ctx: Ctx<unknown>, me: AuthUser): Promise<VerificationRequest> {
			const request = await this.findOneEntity({ userId: me.id });
			if (request) return request;
			if (me.status !== "pending_verification") throw conflict("There is no verification to upload documents for");
			return this.openRequest(ctx, { userId: me.id, role: me.role, supplierId: me.supplierId || null, inviteId: null });
		},

		uploadFields(this: ThisService, fields: unknown): { type: DocumentType; metadata: DocumentMetadata } {
			return parseUploadFields(fields, this.uploadFieldsCheck, new Date());
		},

		/** An approved document stays; a licence must cover the vehicle on file (and the other way round). */
		async checkAgainstCurrent(
			this: ThisService,
			userId: string,
			type: DocumentType,
			metadata: DocumentMetadata,
		): Promise<void> {
			const found = conflictWithCurrent(await this.documentsOf(userId), type, metadata);
			if (!found) return;
			if ("approved" in found) throw conflict(`Your ${type} is already approved`, { documentId: found.approved });
			throw fieldErrors([found.problem]);
		},

		/**
		 * Encrypted file first, then the record with its document.uploaded event (one write); a
		 * failed insert removes the file. Older pending uploads of the type are superseded.
		 */
		async storeDocument(
			this: ThisService,
			ctx: Ctx<unknown>,
			request: VerificationRequest,
			upload: Upload,
		): Promise<VerificationDocument> {
			const id = newId();
			await this.files.write(id, upload.content);
			const doc: VerificationDocument = newDocumentRecord(id, request, upload, {
				declaredType: ctx.meta.mimetype,
				fileName: ctx.meta.filename,
				sha256: sha256Hex(upload.content),
				now: nowIso(),
			});
			try {
				await this.documents().insert(doc, this.envelopes(ctx, [documentUploadedEvent(doc)]));
			} catch (err) {
				await this.files.remove(id);
				throw err;
			}
			await this.flushOutbox();
			const older = await this.documents().find({
				query: { userId: request.userId, type: upload.type, status: "pending_review", _id: { $ne: id } },
			});
			for (const old of older)
				await this.documents().updateOne(
					{ _id: old._id, status: "pending_review" },
					{ $set: { status: "superseded", supersededBy: id } },
				);
			return doc;
		},

		/** pending_review → approved | rejected, with verification.rejected in the same write; a repeated decision is a no-op. */
		async applyReview(
			this: ThisService,
			ctx: Ctx<ReviewParams>,
			doc: VerificationDocument,
		): Promise<VerificationDocument> {
			const { decision, reason } = ctx.params;
			const outcome = reviewOutcome(doc.status, decision);
			// A repeated review (e.g. after users was unreachable) re-runs the completion.
			if ("repeat" in outcome) return doc;
			if ("conflict" in outcome) throw conflict(outcome.conflict, { status: doc.status });
			const events: PendingEvent[] = outcome.target === "rejected" ? [rejectedEvent(doc, reason)] : [];
			const reviewed = await this.documents().updateOne(
				{ _id: doc._id, status: "pending_review" },
				{
					$set: {
						status: outcome.target,
						reviewedAt: nowIso(),
						reviewedBy: ctx.meta.user!.id,
						...(outcome.target === "rejected" ? { reason } : {}),
					},
				},
				this.envelopes(ctx, events),
			);
			if (!reviewed) throw conflict("This document was reviewed meanwhile");
			if (events.length) await this.flushOutbox();
			return reviewed;
		},

		/**
		 * Brings the request's status in line with its documents. Each transition is a
		 * compareAndSet carrying its event, so the event goes out once even when reviews or uploads race.
		 */
		async syncRequest(this: ThisService, ctx: Ctx<unknown>, requestId: string): Promise<VerificationRequest | null> {
			const request = await this.findEntity(requestId);
			if (!request || request.status === "approved") return request;
			const docs = await this.documentsOf(request.userId);
			const next = progress(request.required, docs).status;
			if (next === request.status) return request;
			if (next === "approved")
				await ctx.call<PublicUser, { id: string; verified: VerifiedFacts }>("users.activate", {
					id: request.userId,
					verified: verifiedFacts(docs),
				});
			const events = requestTransitionEvents(request, next);
			const now = nowIso();
			const updated = await this.compareAndSet(
				ctx,
				{ _id: request._id, status: request.status },
				{ $set: { status: next, updatedAt: now, ...(next === "approved" ? { approvedAt: now } : {}) } },
				events,
			);
			return updated ?? this.findEntity(requestId);
		},

		documentsOf(this: ThisService, userId: string): Promise<VerificationDocument[]> {
			return this.documents().find({ query: { userId }, sort: ["uploadedAt"] });
		},

		async getDocumentOr404(this: ThisService, id: string): Promise<VerificationDocument> {
			const doc = typeof id === "string" ? await this.documents().findById(id) : null;
			if (!doc) throw notFound("document", id);
			return doc;
		},

		async statusOf(this: ThisService, userId: string): Promise<VerificationStatus> {
			const request = await this.findOneEntity({ userId });
			if (!request) throw notFound("verification request", userId);
			const docs = await this.documentsOf(userId);
			return statusView(
				request,
				progress(request.required, docs).documents,
				docs.map((d) => this.publicDocument(d)),
			);
		},

		/** Documents waiting for an admin, oldest first. */
		async reviewQueue(this: ThisService, page: number, pageSize: number): Promise<Page<PublicDocument>> {
			const query = { status: "pending_review" };
			const [rows, total] = await Promise.all([
				this.documents().find({ query, sort: ["uploadedAt"], limit: pageSize, offset: (page - 1) * pageSize }),
				this.documents().count(query),
			]);
			return { rows: rows.map((d) => this.publicDocument(d)), total, page, pageSize };
		},

		publicDocument(this: ThisService, doc: VerificationDocument): PublicDocument {
			const { _id, ...rest } = doc;
			return { id: _id, ...rest };
		},
	},

	created(this: ThisService) {
		const cfg = config();
		const key = parseKey(secret("DOCUMENTS_KEY", (msg) => this.logger.warn(msg)));
		// In-memory stores (tests) get a throwaway folder, removed when the service stops.
		const folder = documentsFolder(cfg);
		this.ownsDocumentsDir = folder.temporary;
		this.files = new DocumentFiles(folder.dir, key);
		this.uploadFieldsCheck = this.broker.validator!.compile(UPLOAD_FIELDS) as OwnState["uploadFieldsCheck"];
	},

	stopped(this: ThisService) {
		if (this.ownsDocumentsDir) this.files.removeFolder();
	},
};

export = VerificationService;
