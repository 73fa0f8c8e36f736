/**
 * What the action schemas cannot say about a route's success answer: its status (201, 202 are set
 * by the handler through ctx.meta.$statusCode), its content type (SSE, CSV, files) and, where it is
 * written down, its body schema. Keyed by action name; an action not listed answers 200 with JSON.
 * (Kept apart from the services so that declaring a response does not touch a service's wiring.)
 */
import type { JsonSchema } from "./fv-json-schema";

export interface DeclaredResponse {
	status: number;
	description: string;
	/** Content type → body schema; absent = JSON of any shape. */
	content?: Record<string, JsonSchema>;
	/** Further success answers (e.g. 200 for an idempotent replay of a 201). */
	also?: { status: number; description: string; schema?: JsonSchema }[];
	/** Error statuses beyond those every route of its kind documents (e.g. 410 for an expired invite). */
	errors?: number[];
	/** Request headers the action reads (through the gateway's ctx.meta). */
	headers?: { name: string; description: string }[];
	/** Older paths of the action kept for existing clients (full paths, e.g. /api/invites/:code): documented as deprecated. */
	deprecatedPaths?: string[];
	/** A multipart/form-data request body (moleculer-web multipart routes do not declare `params`). */
	multipart?: JsonSchema;
}

const json = (schema: JsonSchema) => ({ "application/json": schema });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const page = (item: string): JsonSchema => ({
	type: "object",
	required: ["rows", "page", "pageSize"],
	properties: {
		rows: { type: "array", items: ref(item) },
		page: { type: "integer" },
		pageSize: { type: "integer" },
		total: { type: "integer" },
		next: { type: ["string", "null"] },
	},
});

const point: JsonSchema = {
	type: "object",
	required: ["lat", "lng"],
	properties: { lat: { type: "number" }, lng: { type: "number" } },
};

/** Entity schemas referenced by the declared responses (the fields clients rely on; more may come). */
export const ENTITY_SCHEMAS: Record<string, JsonSchema> = {
	User: {
		type: "object",
		required: ["id", "email", "name", "role", "status"],
		properties: {
			id: { type: "string" },
			email: { type: "string", format: "email" },
			name: { type: "string" },
			role: { enum: ["customer", "supplier", "courier", "admin"] },
			status: { type: "string" },
			locale: { type: "string" },
			phone: { type: "string" },
			supplierId: { type: ["string", "null"] },
			mfaEnabled: { type: "boolean" },
			createdAt: { type: "string", format: "date-time" },
			updatedAt: { type: "string", format: "date-time" },
		},
		not: { anyOf: [{ required: ["passwordHash"] }, { required: ["mfaSecret"] }] },
	},
	Order: {
		type: "object",
		required: [
			"id",
			"customerId",
			"supplierId",
			"items",
			"totals",
			"totalCents",
			"status",
			"history",
			"paymentMethod",
			"paymentStatus",
			"createdAt",
		],
		properties: {
			id: { type: "string" },
			customerId: { type: "string" },
			customerName: { type: ["string", "null"] },
			supplierId: { type: "string" },
			supplierName: { type: ["string", "null"] },
			items: {
				type: "array",
				items: {
					type: "object",
					required: ["productId", "quantity"],
					properties: {
						productId: { type: "string" },
						quantity: { type: "integer", minimum: 1 },
						exchange: { type: "boolean" },
					},
				},
			},
			totals: { type: "object" },
			totalCents: { type: "integer", minimum: 0 },
			distanceKm: { type: "number" },
			deliveryAddress: { type: "object" },
			deliveryLocation: point,
			paymentMethod: { enum: ["card", "pix", "cash", "voucher"] },
			paymentStatus: { type: "string" },
			paymentId: { type: ["string", "null"] },
			status: { enum: ["created", "confirmed", "in_transit", "delivered", "cancelled"] },
			preparation: {
				enum: ["accepted", "preparing", "ready"],
				description: "The supplier's preparation of a confirmed order; absent until accepted",
			},
			history: {
				type: "array",
				items: {
					type: "object",
					required: ["status", "at"],
					properties: {
						status: { type: "string" },
						at: { type: "string" },
						stage: { enum: ["accepted", "preparing", "ready"] },
						label: { type: "string", description: "What the entry says, in the request's language" },
					},
				},
			},
			handoverCode: { type: "string", description: "Shown to the order's customer and admins only" },
			courierId: { type: ["string", "null"] },
			refundedCents: { type: "integer" },
			createdAt: { type: "string", format: "date-time" },
			updatedAt: { type: "string", format: "date-time" },
		},
		not: {
			anyOf: [{ required: ["idempotencyKey"] }, { required: ["requestHash"] }, { required: ["stagedPaymentToken"] }],
		},
	},
};

/** Every 202: `{ accepted, id, reason? }` and the route's own details (lib/contracts/common.ts Accepted). */
const accepted = (extra: Record<string, JsonSchema> = {}): JsonSchema => ({
	type: "object",
	required: ["accepted", "id"],
	properties: {
		accepted: { type: "boolean", description: "false: valid but ignored (`reason` says why)" },
		id: { type: ["string", "null"], description: "The resource the accepted work is about" },
		reason: { type: "string" },
		...extra,
	},
});

/** What a sign-in or a refresh answers. */
const SESSION = {
	type: "object",
	required: ["token", "refreshToken", "user"],
	properties: {
		token: {
			type: "string",
			description: "JWT, short-lived (JWT_EXPIRES_IN); send as `Authorization: Bearer <token>`",
		},
		refreshToken: {
			type: "string",
			description: "Opaque; exchange it once at POST /api/auth/refresh (REFRESH_TOKEN_TTL)",
		},
		user: ref("User"),
	},
};

export const DECLARED_RESPONSES: Record<string, DeclaredResponse> = {
	"users.register": {
		status: 201,
		description: "The user was registered",
		content: json(ref("User")),
		errors: [410],
	},
	"users.login": {
		status: 200,
		description: "A bearer token, a refresh token and the signed-in user",
		content: json(SESSION),
	},
	"users.refresh": {
		status: 200,
		description:
			"The next access token and refresh token (the one sent is used up; a used one sent again revokes its family)",
		content: json(SESSION),
	},
	"users.logout": {
		status: 200,
		description: "Every session of the signed-in user has ended (their tokens are refused from now on)",
		content: json({ type: "object", required: ["loggedOut"], properties: { loggedOut: { const: true } } }),
	},
	"users.get": { status: 200, description: "The profile", content: json(ref("User")) },
	"users.list": { status: 200, description: "One page of users", content: json(page("User")) },
	"orders.create": {
		status: 201,
		description: "The order was placed (Location: /api/orders/{id})",
		content: json(ref("Order")),
		headers: [
			{
				name: "Idempotency-Key",
				description:
					"Up to 128 characters; a retry with the same key returns the same order instead of placing another",
			},
		],
		also: [
			{
				status: 200,
				description: "A retry with the same Idempotency-Key: the same order (Idempotent-Replayed: true)",
				schema: ref("Order"),
			},
		],
	},
	"orders.updateStatus": {
		status: 200,
		description: "The order with its new status",
		content: json(ref("Order")),
		errors: [423],
	},
	"orders.prepare": {
		status: 200,
		description:
			"The order at the preparation stage asked for (accepted → preparing → ready, forward only; the same stage again answers it unchanged)",
		content: json(ref("Order")),
	},
	"orders.list": { status: 200, description: "One page of orders, newest first", content: json(page("Order")) },
	"orders.get": {
		status: 200,
		description: "The order, with the courier's position for its customer",
		content: json(ref("Order")),
	},
	"couriers.track": {
		status: 200,
		description: "Server-Sent Events: `position` and `status` until the order is delivered or cancelled",
		content: { "text/event-stream": { type: "string" } },
	},
	"products.create": { status: 201, description: "The product was created" },
	"couriers.create": { status: 201, description: "The courier profile was created" },
	"couriers.updateLocation": {
		status: 202,
		description: "The position was accepted (or ignored when stale: `accepted: false`); `id` is the courier's",
		content: json(accepted({ reason: { enum: ["out_of_order", "stale"] } })),
	},
	"invitations.create": { status: 201, description: "The invite was created" },
	"payments.refund": {
		status: 200,
		description: "The payment with the refund recorded",
		errors: [502],
	},
	"invitations.revoke": { status: 200, description: "The invite was revoked", errors: [410] },
	"notifications.send": {
		status: 202,
		description:
			"The message was accepted for delivery; `id` is the message's (each recipient's copy is in `notifications`)",
		content: json(
			accepted({
				messageId: { type: "string", description: "Same as `id` (older clients)" },
				recipients: { type: "integer", minimum: 0 },
				notifications: { type: "array", items: { type: "string" } },
			}),
		),
	},
	"invitations.lookup": {
		status: 200,
		description: "Whether the invite can be used, for whom and from whom (public: the code is the secret)",
		content: json({
			type: "object",
			required: ["id", "code", "valid", "reason", "role", "invitedBy"],
			properties: {
				id: { type: "string" },
				code: { type: "string" },
				valid: { type: "boolean" },
				reason: { enum: ["expired", "revoked", "used", null] },
				role: { enum: ["supplier", "courier"] },
				invitedBy: { type: "object" },
			},
		}),
		deprecatedPaths: ["/api/invites/:code"],
	},
	"alerts.raise": {
		status: 201,
		description: "The alert was raised",
		also: [{ status: 200, description: "An open alert for the same key already exists (`deduplicated: true`)" }],
	},
	"analytics.createReport": { status: 201, description: "The report was generated" },
	"analytics.createStatement": { status: 201, description: "The statement was stored with the reports" },
	"analytics.statement": {
		status: 200,
		description: "The statement (JSON, or CSV with format=csv)",
		content: { "application/json": {}, "text/csv": { type: "string" } },
	},
	"analytics.runPayout": {
		status: 201,
		description: "The payout run paid every unpaid entry before `until`",
		also: [
			{
				status: 200,
				description: "This run id already ran: the completed run (`alreadyRun: true`), nothing paid again",
			},
		],
	},
	"analytics.reorder": {
		status: 201,
		description:
			"The reorder was placed: `order` is the new order, `sameSupplier` whether it went to the last supplier",
	},
	"vouchers.claim": {
		status: 201,
		description: "The voucher is claimed for an order: pay it with `paymentToken`",
		errors: [409],
	},
	"vouchers.redemptions": {
		status: 200,
		description: "The supplier's redemptions (JSON, or CSV with format=csv)",
		content: { "application/json": {}, "text/csv": { type: "string" } },
	},
	"reviews.submit": { status: 201, description: "The review was stored" },
	"proofs.attach": {
		status: 201,
		description: "The proof of delivery was stored (the photo encrypted)",
		errors: [413, 415],
		multipart: {
			type: "object",
			required: ["file"],
			properties: {
				leftWith: {
					type: "string",
					description: "Who received the cylinder for an absent customer; send before `file`",
				},
				file: {
					type: "string",
					contentMediaType: "application/octet-stream",
					description: "JPEG or PNG, at most 10 MB",
				},
			},
		},
	},
	"proofs.photo": {
		status: 200,
		description: "The decrypted photo",
		content: { "image/jpeg": { type: "string" }, "image/png": { type: "string" } },
	},
	"receipts.get": {
		status: 200,
		description: "The delivered order's receipt (a download)",
		content: { "text/html": { type: "string" } },
	},
	"analytics.downloadReport": {
		status: 200,
		description: "The report's file",
		content: { "text/csv": { type: "string" }, "application/json": {} },
	},
	"verification.upload": {
		status: 201,
		description: "The document was stored (encrypted)",
		multipart: {
			type: "object",
			required: ["type", "file"],
			properties: {
				type: { type: "string", description: "The document type (e.g. anp_authorization); send before `file`" },
				metadata: { type: "string", description: "JSON object with the document's facts; send before `file`" },
				file: {
					type: "string",
					contentMediaType: "application/octet-stream",
					description: "PDF, JPEG or PNG, at most 10 MB",
				},
			},
		},
	},
	"verification.download": {
		status: 200,
		description: "The decrypted document",
		content: {
			"application/pdf": { type: "string" },
			"image/jpeg": { type: "string" },
			"image/png": { type: "string" },
		},
	},
	"api.ready": {
		status: 200,
		description: "The node is ready",
		also: [{ status: 503, description: "The node is not ready (same body, `ready: false`)" }],
	},
	"api.docs": {
		status: 200,
		description: "The interactive API reference (Swagger UI)",
		content: { "text/html": { type: "string" } },
	},
	"api.docsAsset": {
		status: 200,
		description: "A file of the API reference page",
		content: { "text/css": { type: "string" }, "text/javascript": { type: "string" } },
	},
	"api.geoCep": { status: 200, description: "The CEP's address", errors: [404, 503] },
	"api.geoSearch": { status: 200, description: "Places for the address in words", errors: [503] },
	"api.geoReverse": { status: 200, description: "The address at the point", errors: [404, 503] },
	"api.leafletAsset": {
		status: 200,
		description: "A Leaflet file (ESM build or CSS) from the installed package",
		content: { "text/css": { type: "string" }, "text/javascript": { type: "string" } },
	},
	"api.leafletImage": {
		status: 200,
		description: "A Leaflet marker image",
		content: { "image/png": { type: "string" } },
	},
};
