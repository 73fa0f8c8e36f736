/**
 * Receipts: every delivered order gets a receipt (items, deposits, delivery fee, total, payment
 * method, the supplier's name and CNPJ, the customer's CPF when given), issued through a
 * ReceiptProvider (lib/infra/receipts.ts: HTML today, an NF-e provider later) and stored once per
 * order (`_id` = orderId) with receipt.issued. Only the order's customer, its supplier and admins
 * fetch it (GET /api/orders/:id/receipt, a download).
 *
 *   order.delivered ─► orders.receiptFacts ─► provider.issue ─► receipt stored with receipt.issued
 *   (a provider failure throws: the event is retried with backoff, then dead-lettered → an alert)
 *
 * The supplier's name and CNPJ are asked of users (users.supplierFacts) when a receipt is issued: the CNPJ is not carried on events.
 */
import { Context, Service, ServiceSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { Ctx } from "../lib/contracts/common";
import { RECEIPT_PARAMS } from "../lib/contracts/receipts";
import type { Receipt } from "../lib/contracts/receipts";
import { mayFetchReceipt } from "../lib/domain/receipt";
import type { ReceiptOrder } from "../lib/domain/receipt";
import { config } from "../lib/infra/config";
import { clientError, forbidden, isConflict, notFound } from "../lib/infra/errors";
import { nowIso } from "../lib/infra/ids";
import { ReceiptProvider, receiptProvider } from "../lib/infra/receipts";

interface OwnMethods {
	issueFor(ctx: Context | null, orderId: string): Promise<Receipt | null>;
}
type ThisService = Service<{ rest: string }> &
	DbMethods<Receipt> &
	EventsMethods &
	OwnMethods & { provider: ReceiptProvider };

const ReceiptsService: ServiceSchema<{ rest: string }, ThisService> = {
	name: "receipts",
	// EventsMixin first: it must start after DbMixin to keep its outbox and ledger in the store.
	mixins: [
		EventsMixin,
		DbMixin<Receipt>({
			collection: "receipts",
			indexes: [{ fields: { supplierId: 1, issuedAt: -1 } }, { fields: { customerId: 1, issuedAt: -1 } }],
			// The receipt prints the customer's CPF and the supplier's CNPJ.
			sealed: ["body"],
		}),
	],
	settings: { rest: "/" },

	actions: {
		/** The receipt file (a download); 404 until the order is delivered and its receipt issued. */
		get: {
			rest: "GET /orders/:id/receipt",
			auth: { roles: ["customer", "supplier", "admin"] },
			params: RECEIPT_PARAMS.get,
			async handler(this: ThisService, ctx: Ctx<{ id: string }>) {
				const receipt = await this.findEntity(ctx.params.id);
				if (!receipt) throw notFound("receipt", ctx.params.id);
				if (!mayFetchReceipt(receipt, ctx.meta.user!))
					throw forbidden("Only the order's customer, its supplier and admins see its receipt");
				const ext = receipt.contentType.startsWith("text/html") ? "html" : "pdf";
				ctx.meta.$responseType = receipt.contentType;
				ctx.meta.$responseHeaders = {
					"Content-Disposition": `attachment; filename="recibo-${receipt.orderId}.${ext}"`,
					"Cache-Control": "private, no-store",
					"X-Content-Type-Options": "nosniff",
				};
				return Buffer.from(receipt.body, receipt.encoding);
			},
		},

		/** Internal (operators, tests): issue an order's receipt now if it is delivered and has none. */
		issue: {
			visibility: "public",
			params: RECEIPT_PARAMS.issue,
			async handler(this: ThisService, ctx: Ctx<{ orderId: string }>) {
				const receipt = await this.issueFor(ctx, ctx.params.orderId);
				if (!receipt) throw clientError("NOT_DELIVERED", "Only a delivered order has a receipt");
				return this.toPublic(receipt, ["body"]);
			},
		},
	},

	businessEvents: {
		async "order.delivered"(envelope, ctx) {
			await this.issueFor(ctx, envelope.data.orderId);
		},
	} satisfies BusinessEventHandlers<ThisService>,

	methods: {
		/** The order's receipt, issued once (null when the order is not delivered). */
		async issueFor(this: ThisService, ctx: Context | null, orderId: string) {
			const existing = await this.findEntity(orderId);
			if (existing) return existing;
			const call = (ctx ? ctx.call.bind(ctx) : this.broker.call.bind(this.broker)) as Context["call"];
			const order = await call<ReceiptOrder | null, { orderId: string }>("orders.receiptFacts", { orderId });
			if (!order || order.status !== "delivered") {
				this.logger.warn({ orderId }, "No receipt: the order is not delivered");
				return null;
			}
			// The CNPJ is read from users now: it is not carried on events (nothing sensitive in the queues).
			const facts = await call<{ name: string; cnpj: string | null } | null, { id: string }>("users.supplierFacts", {
				id: order.supplierId,
			});
			const issuedAt = nowIso();
			const issued = await this.provider.issue({
				order,
				supplier: {
					name: facts?.name || order.supplierName || order.supplierId,
					cnpj: facts?.cnpj || null,
				},
				number: `GR-${issuedAt.slice(0, 10).replace(/-/g, "")}-${orderId}`,
				issuedAt,
			});
			const receipt: Receipt = {
				_id: orderId,
				orderId,
				customerId: order.customerId,
				supplierId: order.supplierId,
				provider: this.provider.name,
				...issued,
				issuedAt,
			};
			const event = {
				type: "receipt.issued" as const,
				data: {
					orderId,
					customerId: order.customerId,
					supplierId: order.supplierId,
					number: issued.number,
					provider: this.provider.name,
					hasCpf: !!order.cpf,
				},
			};
			try {
				return await this.insertEntity(ctx, receipt, [event]);
			} catch (err) {
				// Another instance issued it meanwhile: theirs stands.
				if (isConflict(err)) return (await this.findEntity(orderId))!;
				throw err;
			}
		},
	} satisfies Partial<OwnMethods> & ThisType<ThisService>,

	created(this: ThisService) {
		this.provider = receiptProvider(config().receiptProvider);
	},
};

export = ReceiptsService;
