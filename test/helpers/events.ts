/** A stand-in for other services in tests: publishes documented business events on request. */
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin } from "../../mixins/events.mixin";

/** A service whose `<name>.publish({ type, data })` publishes a business event envelope. */
export function eventPublisher(name = "probe") {
	return {
		name,
		mixins: [DbMixin({ collection: name }), EventsMixin],
		actions: {
			publish: {
				params: { type: "string", data: { type: "object", strict: false } },
				handler(this: any, ctx: any) {
					return this.publishEvent(ctx.params.type, ctx.params.data, ctx);
				},
			},
		},
	};
}
