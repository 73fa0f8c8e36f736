/**
 * Marks the moment the node can publish durable events: after Channels and ChannelTopics (listed
 * before this one) have connected, subscribed and created the streams. `broker.whenEventsReady()`
 * resolves then.
 */
import { ServiceBroker } from "moleculer";
import { AppMiddleware } from "./types";

export interface EventsReadyBroker extends ServiceBroker {
	eventsReady: boolean;
	whenEventsReady(): Promise<void>;
}

export function eventsReadyMiddleware(): AppMiddleware {
	return {
		name: "EventsReady",
		created(broker) {
			const b = broker as EventsReadyBroker;
			b.eventsReady = false;
			b.whenEventsReady = () =>
				b.eventsReady ? Promise.resolve() : new Promise((resolve) => b.localBus.once("$events.ready", () => resolve()));
		},
		started(broker) {
			const b = broker as EventsReadyBroker;
			b.eventsReady = true;
			b.localBus.emit("$events.ready");
		},
	};
}
