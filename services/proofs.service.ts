/**
 * Proof of delivery: the order's courier attaches a photo while delivering (multipart, JPEG or
 * PNG), with the name of whoever received the cylinder when the customer was absent. The photo is
 * stored encrypted like verification documents (lib/infra/document-files.ts, DOCUMENTS_KEY,
 * DOCUMENTS_DIR), one per order, and seen by the order's customer, its supplier and admins.
 * orders asks `proofs.forOrder` before closing a delivery left with someone (lib/domain/proofs.ts).
 */
import { Readable } from "stream";
import { Context, RestSchema, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { Ctx } from "../lib/contracts/common";
import { PROOF_PARAMS } from "../lib/contracts/proofs";
import type { DeliveryProof, PublicProof } from "../lib/contracts/proofs";
import * as rules from "../lib/domain/proofs";
import { config } from "../lib/infra/config";
import { DocumentFiles, documentsFolder, readUpload } from "../lib/infra/document-files";
import { clientError, forbidden, isConflict, notFound, unprocessable } from "../lib/infra/errors";
import { parseKey, sha256Hex } from "../lib/infra/file-crypto";
import { newId, nowIso } from "../lib/infra/ids";
import { orderParties } from "../lib/infra/order-parties";
import { secret } from "../lib/infra/secrets";

const UPLOAD_ROUTE = {
	method: "POST",
	path: "/orders/:id/proof",
	type: "multipart",
	busboyConfig: { limits: { files: 1, fileSize: rules.MAX_PROOF_BYTES + 1, fields: 3, fieldSize: 1024, parts: 4 } },
} as RestSchema;

interface OwnMethods {
	orderFacts(ctx: Context, orderId: string): Promise<rules.ProofOrder | null>;
	viewableProof(ctx: Ctx<{ id: string }>): Promise<DeliveryProof>;
	publicProof(proof: DeliveryProof): PublicProof;
}
type ThisService = Service<{ rest: string }> &
	DbMethods<DeliveryProof> &
	EventsMethods &
	OwnMethods & { files: DocumentFiles; ownsFolder: boolean };

const refusal = (p: rules.ProofProblem) => clientError(p.type, p.message);

const ProofsService: ServiceSchema<{ rest: string }, ThisService> = {
	name: "proofs",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		EventsMixin,
		DbMixin<DeliveryProof>({ collection: "proofs", indexes: [{ fields: { courierId: 1, createdAt: -1 } }] }),
	],
	settings: { rest: "/" },

	actions: {
		/** Multipart: an optional `leftWith` field (who received the cylinder) before one `file` (JPEG or PNG). */
		attach: {
			rest: UPLOAD_ROUTE,
			auth: { roles: ["courier"] },
			timeout: 120_000,
			async handler(this: ThisService, ctx: Ctx<Readable | undefined>): Promise<PublicProof> {
				const orderId = String((ctx.meta.$params as { id?: unknown } | undefined)?.id ?? "");
				if (!ctx.params || typeof ctx.params.pipe !== "function")
					throw unprocessable("Send the photo as a multipart file field", { field: "file" });
				const content = await readUpload(ctx.params, rules.MAX_PROOF_BYTES);
				const me = ctx.meta.user!;
				const order = await this.orderFacts(ctx, orderId);
				const problem = rules.attachProblem(order, me);
				if (problem) throw refusal(problem);
				const photo = rules.photoProblem(content);
				if (!("contentType" in photo)) throw refusal(photo);
				const multipart = (ctx.meta.$multipart || {}) as Record<string, unknown>;
				const leftWith = rules.recipientName(multipart.leftWith);
				const fileId = newId();
				await this.files.write(fileId, content);
				const proof: DeliveryProof = {
					_id: orderId,
					orderId,
					customerId: order!.customerId!,
					supplierId: order!.supplierId!,
					courierId: me.id,
					leftWith,
					fileId,
					contentType: photo.contentType,
					size: content.length,
					sha256: sha256Hex(content),
					createdAt: nowIso(),
				};
				const event = {
					type: "delivery.proof_attached" as const,
					data: {
						orderId,
						courierId: me.id,
						supplierId: proof.supplierId,
						customerId: proof.customerId,
						leftWith: !!leftWith,
					},
				};
				try {
					await this.insertEntity(ctx, proof, [event]);
				} catch (err) {
					await this.files.remove(fileId);
					if (isConflict(err)) throw clientError("PROOF_EXISTS", "This order already has its proof of delivery");
					throw err;
				}
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${orderId}/proof`;
				return this.publicProof(proof);
			},
		},

		get: {
			rest: "GET /orders/:id/proof",
			auth: { roles: ["customer", "supplier", "admin"] },
			params: PROOF_PARAMS.get,
			async handler(this: ThisService, ctx: Ctx<{ id: string }>): Promise<PublicProof> {
				return this.publicProof(await this.viewableProof(ctx));
			},
		},

		photo: {
			rest: "GET /orders/:id/proof/photo",
			auth: { roles: ["customer", "supplier", "admin"] },
			params: PROOF_PARAMS.get,
			async handler(this: ThisService, ctx: Ctx<{ id: string }>): Promise<Buffer> {
				const proof = await this.viewableProof(ctx);
				const content = await this.files.read(proof.fileId, proof.sha256);
				ctx.meta.$responseType = proof.contentType;
				ctx.meta.$responseHeaders = {
					"Content-Disposition": `inline; filename="entrega-${proof.orderId}.${proof.contentType === "image/png" ? "png" : "jpg"}"`,
					"X-Content-Type-Options": "nosniff",
					"Cache-Control": "private, no-store",
				};
				return content;
			},
		},

		/** Internal (orders, before closing a delivery left with someone): the order's proof, or null. */
		forOrder: {
			visibility: "public",
			params: PROOF_PARAMS.forOrder,
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>) {
				const proof = await this.findEntity(ctx.params.orderId);
				return proof ? { orderId: proof.orderId, leftWith: proof.leftWith, createdAt: proof.createdAt } : null;
			},
		},
	},

	methods: {
		orderFacts(this: ThisService, ctx: Context, orderId: string) {
			return orderParties(ctx, orderId, "proofs");
		},

		async viewableProof(this: ThisService, ctx: Ctx<{ id: string }>) {
			const proof = await this.findEntity(ctx.params.id);
			if (!proof) throw notFound("proof of delivery", ctx.params.id);
			if (!rules.mayViewProof(proof, ctx.meta.user!)) throw forbidden("This is not your order");
			return proof;
		},

		publicProof(this: ThisService, proof: DeliveryProof): PublicProof {
			const { _id, fileId: _file, sha256: _sum, ...rest } = proof;
			return { ...rest, photoUrl: `/api/orders/${_id}/proof/photo` };
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,

	created(this: ThisService) {
		const cfg = config();
		const key = parseKey(secret("DOCUMENTS_KEY", (msg) => this.logger.warn(msg)));
		// In-memory stores (tests) get a throwaway folder, removed when the service stops.
		const folder = documentsFolder(cfg);
		this.ownsFolder = folder.temporary;
		this.files = new DocumentFiles(folder.dir, key);
	},

	stopped(this: ThisService) {
		if (this.ownsFolder) this.files.removeFolder();
	},
};

export = ProofsService;
