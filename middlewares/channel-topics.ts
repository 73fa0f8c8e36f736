/**
 * JetStream keeps messages only on subjects that have a stream, and the channels adapter creates a
 * stream when a consumer subscribes. Create every topic's stream up front so a publisher on a fresh
 * NATS (before any consumer ever ran) does not get "no responders", and nothing is lost meanwhile.
 * Listed after the Channels middleware, so its adapter is connected when this runs.
 */
import { ServiceBroker } from "moleculer";
import { DEAD_LETTER_TOPIC, TOPICS } from "../lib/domain/events";
import { channelName } from "../mixins/events.mixin";
import { AppMiddleware } from "./types";

/** The part of @moleculer/channels' JetStream adapter used here (it ships no types for it). */
interface JetStreamAdapter {
	manager?: unknown;
	addPrefixTopic(topic: string): string;
	createStream(name: string, subjects: string[], opts: Record<string, unknown>): Promise<unknown>;
}

function jetStreamAdapter(broker: ServiceBroker): JetStreamAdapter | null {
	const adapter = (broker as ServiceBroker & { channelAdapter?: Partial<JetStreamAdapter> }).channelAdapter;
	if (!adapter || !adapter.manager || typeof adapter.createStream !== "function") return null;
	return adapter as JetStreamAdapter;
}

export async function ensureDurableTopics(broker: ServiceBroker): Promise<void> {
	const adapter = jetStreamAdapter(broker);
	if (!adapter) return;
	for (const topic of [...TOPICS, DEAD_LETTER_TOPIC]) {
		const subject = adapter.addPrefixTopic(channelName(topic));
		try {
			await adapter.createStream(subject.split(".").join("_"), [subject], {});
		} catch (err) {
			broker.logger.warn(`Could not create the stream for ${subject}: ${(err as Error)?.message}`);
		}
	}
}

export function channelTopicsMiddleware(): AppMiddleware {
	return { name: "ChannelTopics", started: ensureDurableTopics };
}
