/** How `this` looks inside the orders service and its mixins (services/parts/orders/*.mixin.ts). */
import type { Context, Service } from "moleculer";
import type { DbMethods } from "../../../mixins/db.mixin";
import type { EventsMethods } from "../../../mixins/events.mixin";
import type { AuthUser, Ctx } from "../../../lib/contracts/common";
import type { CourierAssigned, PendingEvent } from "../../../lib/contracts/events";
import type {
	CreateOrderParams,
	CustomerView,
	Order,
	OrderView,
	PaymentMethod,
	UpdateStatusParams,
} from "../../../lib/contracts/orders";
import type { Actor, OrderStatus, TransitionProblem } from "../../../lib/domain/order-status";
import type { OrderPaymentStatus as PaymentStatus } from "../../../lib/domain/payment-status";

export interface Settings {
	rest: string;
}

export interface TransitionExtra {
	reason?: string;
	inc?: Record<string, number>;
	/** Recorded with the transition, besides the status's own event. */
	events?: PendingEvent[];
}

export interface OwnMethods {
	requestHash(params: CreateOrderParams): string;
	orderForKey(key: string, hash: string): Promise<Order | null>;
	replay(ctx: Ctx<CreateOrderParams>, order: Order): OrderView;
	placeOrder(
		ctx: Ctx<CreateOrderParams>,
		key: string | undefined,
		hash: string,
	): Promise<{ order: Order; replayed: boolean }>;
	transitionError(problem: TransitionProblem, order: Order, data?: Record<string, unknown>): Error;
	requireProof(ctx: Ctx<UpdateStatusParams>, order: Order, leftWith: string): Promise<void>;
	claimHandoverAttempt(ctx: Ctx<UpdateStatusParams>, order: Order, actor: Actor): Promise<Order>;
	transition(ctx: Context, order: Order, to: OrderStatus, actor: Actor, extra?: TransitionExtra): Promise<Order | null>;
	settleStock(ctx: Context, order: Order): Promise<Order>;
	moveBySaga(ctx: Context, orderId: string, to: OrderStatus, extra?: TransitionExtra): Promise<Order | null>;
	awaitsPaymentRetry(ctx: Context, orderId: string, reason: string): Promise<boolean>;
	cancelUnpaidOrders(): Promise<number>;
	repairStuckOrders(): Promise<number>;
	repairUnpaidOrder(ctx: Context, order: Order): Promise<boolean>;
	repaired(kind: string, orderId: string): void;
	recordPayment(
		ctx: Context,
		orderId: string,
		paymentId: string | null,
		status: PaymentStatus,
		method?: PaymentMethod,
	): Promise<void>;
	assignCourier(ctx: Context, data: CourierAssigned): Promise<void>;
	upsertCustomer(customer: CustomerView): Promise<void>;
	migrateLegacyRecords(): Promise<void>;
	visibleOrderOr404(ctx: Ctx<unknown>, orderId: string): Promise<Order>;
	orderView(order: Order, me: AuthUser): OrderView;
	courierPosition(ctx: Ctx, order: Order): Promise<unknown>;
}

export type ThisService = Service<Settings> &
	DbMethods<Order> &
	EventsMethods &
	OwnMethods & {
		cfg: {
			promiseMinutes: number;
			etaTimeoutMs: number;
			paymentRetryGraceMs: number;
			paymentDeadlineMs: number;
			pixExpiryMs: number;
		};
	};
