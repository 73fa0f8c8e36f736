/**
 * The supplier's preparation of a confirmed order (an action of the orders service):
 * PUT /api/orders/:id/preparation { stage } moves it accepted → preparing → ready, forward only
 * (lib/domain/preparation.ts). One compare-and-set on the stage it was read in, with the history
 * entry (who, when, which stage) and order.preparation (notifications tells the customer) in the
 * same write. The same stage again answers the order as it is (no write, no event). Handing the
 * order to its courier is the status move confirmed → in_transit (PUT /api/orders/:id/status).
 */
import { ServiceSchema } from "moleculer";
import type { Ctx } from "../../../lib/contracts/common";
import * as contract from "../../../lib/contracts/orders";
import type { OrderView, PreparationParams } from "../../../lib/contracts/orders";
import { Actor, historyEntry } from "../../../lib/domain/order-status";
import { isSameStage, preparationEvent, preparationFields, preparationProblem } from "../../../lib/domain/preparation";
import { clientError } from "../../../lib/infra/errors";
import { nowIso } from "../../../lib/infra/ids";
import type { Settings, ThisService } from "./types";

const schema: Partial<ServiceSchema<Settings, ThisService>> = {
	actions: {
		prepare: {
			rest: "PUT /orders/:id/preparation",
			auth: { roles: ["supplier", "admin"] },
			params: contract.preparationParams,
			async handler(this: ThisService, ctx: Ctx<PreparationParams>): Promise<OrderView> {
				const me = ctx.meta.user!;
				const { id, stage } = ctx.params;
				const order = await this.visibleOrderOr404(ctx, id);
				const actor: Actor = { id: me.id, role: me.role };
				const problem = preparationProblem(order, stage, actor);
				if (problem) throw this.transitionError(problem, order, { preparation: order.preparation ?? null });
				if (isSameStage(order, stage)) return this.orderView(order, me);
				const now = nowIso();
				const updated = await this.compareAndSet(
					ctx,
					{
						_id: order._id,
						status: "confirmed",
						preparation: order.preparation ? order.preparation : { $exists: false },
					},
					{
						$set: preparationFields(stage, now),
						$push: { history: historyEntry("confirmed", actor, now, { stage }) },
					},
					[{ type: "order.preparation", data: preparationEvent(order, stage, now) }],
				);
				if (!updated) throw clientError("INVALID_TRANSITION", "The order changed meanwhile; reload it");
				return this.orderView(updated, me);
			},
		},
	},
};

// Moleculer types a mixin's `this` as a plain Service; ours is ThisService.
export const OrderPreparationMixin = schema as unknown as Partial<ServiceSchema>;
