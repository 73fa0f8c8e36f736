/**
 * Verification: invited suppliers and couriers upload the documents their role needs; files are
 * checked by content, encrypted at rest (AES-256-GCM) under the documents folder with names we
 * generate; an admin reviews each one; when all are approved the user is activated.
 *
 * One store holds two kinds of records: a request per user (kind "request") and its documents
 * (kind "document"). Request status: awaiting_documents → in_review (all in) → approved; a
 * rejection moves it back to awaiting_documents until a new upload replaces the document.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import fs from "fs";
import os from "os";
import path from "path";
import { Readable } from "stream";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import { config } from "../lib/infra/config";
import {
	CONTENT_TYPES,
	currentDocuments,
	displayName,
	DOCUMENT_TYPES,
	DocumentType,
	extensionFor,
	licenceCoversVehicle,
	MAX_DOCUMENT_BYTES,
	metadataProblems,
	normalizeMetadata,
	progress,
	requiredDocuments,
	sniffContentType,
	StoredDocument,
	verifiedFacts,
} from "../lib/domain/documents";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { EventEnvelope } from "../lib/domain/events";
import { decryptFile, encryptFile, parseKey, sha256Hex } from "../lib/infra/file-crypto";
import { newId, nowIso } from "../lib/infra/ids";
import { secret } from "../lib/infra/secrets";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

const { MoleculerClientError, ValidationError } = Errors;
const SAFE_ID = /^[A-Za-z0-9_-]{10,64}$/;
const UPLOAD_FIELDS = {
	type: { type: "enum", values: DOCUMENT_TYPES },
	metadata: { type: "string", max: 8000, optional: true },
};

const tooLarge = (max: number) =>
	new MoleculerClientError(`The file is larger than ${max} bytes`, 413, "FILE_TOO_LARGE", { maxBytes: max });

/** The whole upload in memory (at most `max` bytes), or a 413 as soon as it grows past that. */
function readUpload(stream: Readable, max: number): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		stream.on("data", (chunk: Buffer) => {
			size += chunk.length;
			if (size > max) {
				stream.destroy();
				reject(tooLarge(max));
			} else chunks.push(chunk);
		});
		stream.on("end", () => resolve(Buffer.concat(chunks)));
		// moleculer-web destroys the stream with a PayloadTooLarge (413) at busboy's fileSize limit.
		stream.on("error", (err: any) => reject(err && err.code === 413 ? tooLarge(max) : err));
	});
}

function fieldErrors(problems: { field: string; message: string }[], message = "Invalid document metadata") {
	return new ValidationError(message, "VALIDATION_ERROR", problems as any);
}

const VerificationService: ServiceSchema = {
	name: "verification",
	mixins: [
		DbMixin({
			collection: "verification",
			indexes: [
				{ fields: { requestFor: 1 }, unique: true, sparse: true },
				{ fields: { userId: 1 } },
				{ fields: { status: 1 } },
			],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		/** Multipart: fields `type` and `metadata` (JSON) first, then one `file`. */
		upload: {
			rest: {
				method: "POST",
				path: "/verification/documents",
				type: "multipart",
				// One byte over the limit, so a stream busboy cut short is still seen as too large by readUpload.
				busboyConfig: {
					limits: { files: 1, fileSize: MAX_DOCUMENT_BYTES + 1, fields: 5, fieldSize: 16 * 1024, parts: 8 },
				},
			},
			auth: { roles: ["supplier", "courier"] },
			timeout: 120_000,
			async handler(this: any, ctx: Ctx) {
				if (!ctx.params || typeof ctx.params.pipe !== "function")
					throw unprocessable("Send the document as a multipart file field", { field: "file" });
				const content = await readUpload(ctx.params, this.maxDocumentBytes);
				const me = ctx.meta.user!;
				const { type, metadata } = this.uploadFields(ctx.meta.$multipart);
				const request = await this.requestForUploader(ctx, me);
				const contentType = this.checkUpload(request, type, content);
				await this.checkAgainstCurrent(me.id, type, metadata);
				const doc = await this.storeDocument(ctx, request, { type, metadata, content, contentType });
				await this.publishEvent(
					"document.uploaded",
					{ userId: me.id, documentId: doc._id, type, role: request.role },
					ctx,
				);
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
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
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
			async handler(this: any, ctx: Ctx) {
				const { id, decision, reason } = ctx.params;
				if (decision === "reject" && !reason)
					throw fieldErrors([{ field: "reason", message: "A rejection needs a reason" }], "A rejection needs a reason");
				const doc = await this.getDocumentOr404(id);
				const reviewed = await this.applyReview(ctx, doc, decision, reason);
				if (reviewed.status === "rejected" && doc.status === "pending_review")
					await this.publishEvent(
						"verification.rejected",
						{ userId: doc.userId, role: doc.role, documentId: doc._id, documentType: doc.type, reason },
						ctx,
					);
				await this.syncRequest(ctx, doc.requestId);
				return this.publicDocument(reviewed);
			},
		},

		download: {
			rest: "GET /verification/documents/:id/file",
			auth: { roles: ["admin"], mfa: true },
			params: { id: { type: "string", max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const doc = await this.getDocumentOr404(ctx.params.id);
				const content = await this.readDocumentFile(doc);
				ctx.meta.$responseType = doc.contentType;
				ctx.meta.$responseHeaders = {
					"Content-Disposition": `attachment; filename="${doc.type}-${doc._id}.${extensionFor(doc.contentType)}"`,
					"X-Content-Type-Options": "nosniff",
					"Cache-Control": "no-store",
				};
				this.logger.info(
					{ requestId: ctx.requestID, documentId: doc._id, by: ctx.meta.user!.id },
					"document downloaded",
				);
				return content;
			},
		},
	} as any,

	businessEvents: {
		async "invitation.accepted"(this: any, envelope: EventEnvelope, ctx: Ctx) {
			const { userId, role, supplierId, inviteId } = envelope.data;
			if (requiredDocuments(role).length === 0) return;
			await this.openRequest(ctx, { userId, role, supplierId: supplierId || null, inviteId: inviteId || null });
		},
	},

	methods: {
		/** Idempotent: the one request of a user (unique on requestFor). */
		async openRequest(
			this: any,
			ctx: Ctx | null,
			who: { userId: string; role: string; supplierId: string | null; inviteId: string | null },
		) {
			const existing = await this.findOneEntity({ requestFor: who.userId });
			if (existing) return existing;
			try {
				return await this.insertEntity(ctx, {
					kind: "request",
					requestFor: who.userId,
					...who,
					required: [...requiredDocuments(who.role)],
					status: "awaiting_documents",
					createdAt: nowIso(),
					updatedAt: nowIso(),
				});
			} catch (err: any) {
				if (err && err.code === 409) return this.findOneEntity({ requestFor: who.userId });
				throw err;
			}
		},

		/** The uploader's request; opened here if invitation.accepted has not arrived yet. */
		async requestForUploader(this: any, ctx: Ctx, me: AuthUser) {
			const request = await this.findOneEntity({ requestFor: me.id });
			if (request) return request;
			if (me.status !== "pending_verification") throw conflict("There is no verification to upload documents for");
			return this.openRequest(ctx, { userId: me.id, role: me.role, supplierId: me.supplierId || null, inviteId: null });
		},

		uploadFields(this: any, fields: Record<string, unknown> | undefined) {
			const values = { ...(fields || {}) };
			const check = this.uploadFieldsCheck(values);
			if (check !== true) throw new ValidationError("Parameters validation error!", "VALIDATION_ERROR", check);
			let metadata: unknown;
			try {
				metadata = JSON.parse((values.metadata as string) || "{}");
			} catch {
				throw fieldErrors([{ field: "metadata", message: "metadata must be a JSON object" }]);
			}
			const type = values.type as DocumentType;
			const problems = metadataProblems(type, metadata, new Date());
			if (problems.length) throw fieldErrors(problems);
			return { type, metadata: normalizeMetadata(type, metadata as Record<string, any>) };
		},

		/** Rules that need the request and the bytes; returns the real content type. */
		checkUpload(request: Doc, type: DocumentType, content: Buffer) {
			if (request.status === "approved") throw conflict("Your verification is complete", { status: request.status });
			if (!request.required.includes(type))
				throw fieldErrors([{ field: "type", message: `a ${request.role} does not upload ${type}` }]);
			if (content.length === 0) throw unprocessable("The file is empty", { field: "file" });
			const contentType = sniffContentType(content.subarray(0, 16));
			if (!contentType)
				throw new MoleculerClientError("The file is not a PDF, JPEG or PNG", 415, "UNSUPPORTED_FILE_TYPE", {
					accepted: CONTENT_TYPES,
				});
			return contentType;
		},

		/** An approved document stays; a licence must cover the vehicle on file (and the other way round). */
		async checkAgainstCurrent(this: any, userId: string, type: DocumentType, metadata: Doc) {
			const current = currentDocuments(await this.documentsOf(userId));
			const same = current.get(type);
			if (same && same.status === "approved")
				throw conflict(`Your ${type} is already approved`, { documentId: same._id });
			const usable = (t: DocumentType) => {
				const d = current.get(t);
				return d && d.status !== "rejected" ? d.metadata : null;
			};
			const licence = type === "drivers_licence" ? metadata : usable("drivers_licence");
			const vehicle = type === "vehicle_document" ? metadata : usable("vehicle_document");
			if (licence && vehicle && !licenceCoversVehicle(licence.category, vehicle.vehicleType))
				throw fieldErrors([
					{
						field: "metadata",
						message: `a category ${licence.category} licence does not cover a ${vehicle.vehicleType}`,
					},
				]);
		},

		/** Encrypted file first, then the record; a failed insert removes the file. Older pending uploads of the type are superseded. */
		async storeDocument(
			this: any,
			ctx: Ctx,
			request: Doc,
			upload: { type: DocumentType; metadata: Doc; content: Buffer; contentType: string },
		) {
			const id = newId();
			const file = this.documentPath(id);
			await this.writeEncrypted(file, id, upload.content);
			let doc: Doc;
			try {
				doc = await this.insertEntity(ctx, {
					_id: id,
					kind: "document",
					userId: request.userId,
					role: request.role,
					requestId: request._id,
					type: upload.type,
					metadata: upload.metadata,
					contentType: upload.contentType,
					declaredType: typeof ctx.meta.mimetype === "string" ? ctx.meta.mimetype.slice(0, 100) : null,
					fileName: displayName(ctx.meta.filename),
					size: upload.content.length,
					sha256: sha256Hex(upload.content),
					status: "pending_review",
					uploadedAt: nowIso(),
				});
			} catch (err) {
				await fs.promises.rm(file, { force: true });
				throw err;
			}
			const older = await this.findEntities({
				query: {
					kind: "document",
					userId: request.userId,
					type: upload.type,
					status: "pending_review",
					_id: { $ne: id },
				},
			});
			for (const old of older)
				await this.compareAndSet(
					ctx,
					{ _id: old._id, status: "pending_review" },
					{ $set: { status: "superseded", supersededBy: id } },
				);
			return doc;
		},

		async writeEncrypted(this: any, file: string, id: string, content: Buffer) {
			const temp = `${file}.part`;
			try {
				await fs.promises.writeFile(temp, encryptFile(content, this.documentsKey, id), { mode: 0o600, flag: "wx" });
				await fs.promises.rename(temp, file);
			} catch (err) {
				await fs.promises.rm(temp, { force: true });
				throw err;
			}
		},

		async readDocumentFile(this: any, doc: Doc): Promise<Buffer> {
			let blob: Buffer;
			try {
				blob = await fs.promises.readFile(this.documentPath(doc._id));
			} catch (err: any) {
				if (err && err.code === "ENOENT")
					throw new Errors.MoleculerError("The document's file is missing", 500, "DOCUMENT_FILE_MISSING");
				throw err;
			}
			const content = decryptFile(blob, this.documentsKey, doc._id);
			if (sha256Hex(content) !== doc.sha256)
				throw new Errors.MoleculerError("The document's file does not match its checksum", 500, "DOCUMENT_CORRUPT");
			return content;
		},

		/** Only ids we generated become file names. */
		documentPath(this: any, id: string): string {
			if (!SAFE_ID.test(id)) throw new Error(`Unsafe document id '${id}'`);
			return path.join(this.documentsDir, `${id}.enc`);
		},

		async applyReview(this: any, ctx: Ctx, doc: Doc, decision: "approve" | "reject", reason?: string) {
			const target = decision === "approve" ? "approved" : "rejected";
			if (doc.status === target) return doc; // a repeated review (e.g. after users was unreachable) re-runs the completion
			if (doc.status === "superseded") throw conflict("A newer upload replaced this document", { status: doc.status });
			if (doc.status !== "pending_review")
				throw conflict(`This document is already ${doc.status}`, { status: doc.status });
			const reviewed = await this.compareAndSet(
				ctx,
				{ _id: doc._id, status: "pending_review" },
				{
					$set: {
						status: target,
						reviewedAt: nowIso(),
						reviewedBy: ctx.meta.user!.id,
						...(target === "rejected" ? { reason } : {}),
					},
				},
			);
			if (!reviewed) throw conflict("This document was reviewed meanwhile");
			return reviewed;
		},

		/**
		 * Brings the request's status in line with its documents. Each transition is a
		 * compareAndSet, so its event goes out once even when reviews or uploads race.
		 */
		async syncRequest(this: any, ctx: Ctx, requestId: string) {
			const request = await this.findEntity(requestId);
			if (!request || request.status === "approved") return request;
			const docs = await this.documentsOf(request.userId);
			const next = progress(request.required, docs).status;
			if (next === request.status) return request;
			if (next === "approved") await ctx.call("users.activate", { id: request.userId, verified: verifiedFacts(docs) });
			const updated = await this.compareAndSet(
				ctx,
				{ _id: request._id, status: request.status },
				{ $set: { status: next, updatedAt: nowIso(), ...(next === "approved" ? { approvedAt: nowIso() } : {}) } },
			);
			if (!updated) return this.findEntity(requestId);
			const data = {
				userId: request.userId,
				role: request.role,
				requestId: request._id,
				supplierId: request.supplierId || null,
			};
			if (next === "in_review") await this.publishEvent("verification.requested", data, ctx);
			if (next === "approved") await this.publishEvent("verification.approved", data, ctx);
			return updated;
		},

		documentsOf(this: any, userId: string): Promise<StoredDocument[]> {
			return this.findEntities({ query: { kind: "document", userId }, sort: ["uploadedAt"] });
		},

		async getDocumentOr404(this: any, id: string) {
			const doc = await this.findEntity(id);
			if (!doc || doc.kind !== "document") throw notFound("document", id);
			return doc;
		},

		async statusOf(this: any, userId: string) {
			const request = await this.findOneEntity({ requestFor: userId });
			if (!request) throw notFound("verification request", userId);
			const docs = await this.documentsOf(userId);
			const { documents } = progress(request.required, docs);
			return {
				userId,
				role: request.role,
				supplierId: request.supplierId || null,
				status: request.status,
				required: documents,
				documents: docs.map((d: Doc) => this.publicDocument(d)),
				createdAt: request.createdAt,
				approvedAt: request.approvedAt || null,
			};
		},

		/** Documents waiting for an admin, oldest first. */
		async reviewQueue(this: any, page: number, pageSize: number) {
			const query = { kind: "document", status: "pending_review" };
			const [rows, total] = await Promise.all([
				this.findEntities({ query, sort: ["uploadedAt"], limit: pageSize, offset: (page - 1) * pageSize }),
				this.countEntities(query),
			]);
			return { rows: rows.map((d: Doc) => this.publicDocument(d)), total, page, pageSize };
		},

		publicDocument(this: any, doc: Doc) {
			return this.toPublic(doc, ["kind"]);
		},
	},

	created(this: any) {
		const cfg = config();
		this.maxDocumentBytes = MAX_DOCUMENT_BYTES;
		this.documentsKey = parseKey(secret("DOCUMENTS_KEY", (msg) => this.logger.warn(msg)));
		// In-memory stores (tests) get a throwaway folder, removed when the service stops.
		this.ownsDocumentsDir = !cfg.documentsDir && cfg.inMemoryStore;
		this.documentsDir = cfg.documentsDir
			? path.resolve(cfg.documentsDir)
			: cfg.inMemoryStore
				? fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-documents-"))
				: path.resolve(cfg.dataDir, "documents");
		fs.mkdirSync(this.documentsDir, { recursive: true, mode: 0o700 });
		this.uploadFieldsCheck = this.broker.validator.compile(UPLOAD_FIELDS);
	},

	stopped(this: any) {
		if (this.ownsDocumentsDir) fs.rmSync(this.documentsDir, { recursive: true, force: true });
	},
};

export = VerificationService;
