/**
 * Products' reservation sweep (run by its "reservation-sweep" timer and the sweepReservations
 * action): StockLedger.sweep with the statuses of the reservations' orders from orders.statusesFor,
 * each repair logged with its order id and counted in gasrapido_repairs_total{kind}. One pass at a
 * time: a pass asked for while one runs finds nothing to do.
 */
import type { LoggerInstance, ServiceBroker } from "moleculer";
import type { SweepResult } from "../contracts/products";
import type { OrderStatus } from "../domain/order-status";
import { countRepair } from "./repairs";
import type { StockLedger } from "./stock-ledger";

export class ReservationSweep {
	private running = false;

	constructor(
		private readonly ledger: StockLedger,
		private readonly broker: ServiceBroker,
		private readonly logger: LoggerInstance,
	) {}

	async run(): Promise<SweepResult> {
		if (this.running) return { released: 0, committed: 0 };
		this.running = true;
		try {
			return await this.ledger.sweep(
				(ids) => this.orderStatuses(ids),
				({ reservation: r, action, orderStatus }) => {
					const done = action === "release" ? "released" : "committed";
					const why = `order ${orderStatus ?? "missing"}, expired at ${r.expiresAt}, was ${r.state}`;
					this.logger.info(
						{ orderId: r.orderId },
						`Reservation sweep: ${done} the stock of order ${r.orderId} (${why})`,
					);
					countRepair(this.broker, `stock_${done}`);
				},
			);
		} finally {
			this.running = false;
		}
	}

	/** Statuses of orders by id (absent: no such order), or null when orders does not answer. */
	private async orderStatuses(ids: string[]): Promise<Map<string, OrderStatus> | null> {
		if (ids.length === 0) return new Map<string, OrderStatus>();
		try {
			const rows = await this.broker.call<{ orderId: string; status: OrderStatus }[], { orderIds: string[] }>(
				"orders.statusesFor",
				{ orderIds: ids },
			);
			return new Map(rows.map((r) => [r.orderId, r.status]));
		} catch (err) {
			this.logger.warn(
				`Reservation sweep: orders.statusesFor failed, expired reservations wait: ${(err as Error).message}`,
			);
			return null;
		}
	}
}
