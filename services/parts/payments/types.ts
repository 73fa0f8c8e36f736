/** The payments service's `this`: its settings, storage, events, own and reconciliation methods. */
import type { Context, Service } from "moleculer";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { CallMeta } from "../../../lib/contracts/common";
import type { PendingEvent } from "../../../lib/contracts/events";
import type { OrderStatusRow, Payment, PaymentView } from "../../../lib/contracts/payments";
import type { PaymentStatus } from "../../../lib/domain/payment-status";
import type { AppConfig } from "../../../lib/infra/config";
import type { ChargeResult, PaymentMethod, PaymentProvider } from "../../../lib/infra/payment-provider";
import type { UpdateSpec } from "../../../lib/infra/store/types";
import type { ReconciliationMethods } from "./reconciliation";
import type { VoucherMethods } from "./vouchers";

/** Any context a method gets: an action's, or an event handler's. */
export type AnyCtx = Context<unknown, CallMeta>;

/**
 * What a payment is created from: an order.created payload, an orders.statusesFor row, or an
 * order.cancelled payload (no amount nor method: the payment is voided before it was ever charged).
 */
export type PaymentSource = Pick<OrderStatusRow, "orderId" | "customerId" | "supplierId"> & {
	paymentMethod?: string;
	totalCents?: number;
};
export type TokenSource = string | null | (() => Promise<string | null>);

export type Settings = AppConfig["payments"] & { rest: string };

export interface OwnMethods {
	orderForPayment(ctx: AnyCtx, orderId: string): Promise<OrderStatusRow>;
	takePaymentToken(ctx: AnyCtx, orderId: string): Promise<string | null>;
	ensurePayment(ctx: AnyCtx | null, order: PaymentSource, initialStatus?: PaymentStatus): Promise<Payment>;
	charge(
		ctx: AnyCtx | null,
		payment: Payment,
		from: PaymentStatus[],
		method: PaymentMethod,
		token?: TokenSource,
	): Promise<Payment | null>;
	askProvider(payment: Payment, key: string, token: string | null): Promise<ChargeResult>;
	recordCharge(ctx: AnyCtx | null, payment: Payment, key: string, result: ChargeResult): Promise<Payment>;
	settleCancelled(ctx: AnyCtx | null, payment: Payment, reason: string | null): Promise<void>;
	refundRemainder(ctx: AnyCtx | null, payment: Payment, reason: string, again?: boolean): Promise<Payment | null>;
	refund(
		ctx: AnyCtx | null,
		payment: Payment,
		amountCents: number,
		reason: string,
		by: string,
		refundId?: string,
	): Promise<Payment>;
	settleRefund(
		ctx: AnyCtx | null,
		paymentId: string,
		delta: number,
		update: UpdateSpec,
		events?: (p: Payment) => PendingEvent[],
	): Promise<Payment>;
	confirmPix(ctx: AnyCtx | null, paymentId: string): Promise<Payment | null>;
	scheduleAutoPix(paymentId: string): void;
	captureCash(ctx: AnyCtx | null, orderId: string): Promise<void>;
	paymentView(payment: Payment): PaymentView;
}

export type PaymentsThis = Service<Settings> &
	DbMethods<Payment> &
	EventsMethods &
	OwnMethods &
	ReconciliationMethods &
	VoucherMethods & {
		provider: PaymentProvider;
		pixTimers: Set<NodeJS.Timeout>;
	};
