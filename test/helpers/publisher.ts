/** A test service that publishes business events on the durable topics, as a real producer would. */
import { ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin } from "../../mixins/events.mixin";
import type { EventName, EventMap } from "../../lib/contracts/events";

export const publisher: ServiceSchema = {
	name: "publisher",
	mixins: [EventsMixin, DbMixin({ collection: "publisher" })],
	actions: {
		publish(ctx) {
			const { type, data } = ctx.params as { type: EventName; data: EventMap[EventName] };
			return (this as unknown as { publishEvent(t: EventName, d: unknown): Promise<unknown> }).publishEvent(type, data);
		},
	},
};
