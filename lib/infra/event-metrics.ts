/**
 * Counters and a gauge for durable business events in Moleculer's metrics registry (exported by the
 * Prometheus reporter on METRICS_PORT), labelled by topic and consumer group.
 *
 * Two callers:
 * - the SQLite channels adapter counts its own deliveries (published, handled, retried,
 *   dead-lettered, backlog) with the `count*` / `setBacklog` functions;
 * - mixins/events.mixin.ts (every adapter) calls the `record*` functions. `recordPublished` and
 *   `recordHandled` do nothing when the adapter counts for itself, so nothing is counted twice.
 *   `recordRetried` / `recordDeadLettered` always count: the mixin retries inside one delivery and
 *   dead-letters to its own topic, which the adapter never sees as a failure.
 *
 * Every function is a no-op when metrics are disabled (METRICS_PORT=0).
 */
import { METRIC, ServiceBroker } from "moleculer";

export const EVENT_METRICS = {
	published: "gasrapido_events_published_total",
	handled: "gasrapido_events_handled_total",
	retried: "gasrapido_events_retried_total",
	deadLettered: "gasrapido_events_dead_lettered_total",
	backlog: "gasrapido_events_backlog",
} as const;

/** Marks a channels adapter that counts the event metrics itself (see adapterCountsEvents). */
export interface CountsEventMetrics {
	readonly countsEventMetrics: true;
}

type CounterName = Exclude<(typeof EVENT_METRICS)[keyof typeof EVENT_METRICS], typeof EVENT_METRICS.backlog>;

const COUNTERS: { name: CounterName; labelNames: string[]; description: string }[] = [
	{ name: EVENT_METRICS.published, labelNames: ["topic"], description: "Events written to a durable topic" },
	{ name: EVENT_METRICS.handled, labelNames: ["topic", "group"], description: "Events a consumer group handled" },
	{ name: EVENT_METRICS.retried, labelNames: ["topic", "group"], description: "Failed deliveries scheduled again" },
	{
		name: EVENT_METRICS.deadLettered,
		labelNames: ["topic", "group"],
		description: "Events given up after every retry",
	},
];

/** Registers the event metrics once per broker (safe to call from the adapter and the mixin). */
export function registerEventMetrics(broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled()) return;
	const registry = broker.metrics;
	for (const counter of COUNTERS) {
		if (registry.hasMetric(counter.name)) continue;
		registry.register({ type: METRIC.TYPE_COUNTER, rate: true, unit: "event", ...counter });
	}
	if (!registry.hasMetric(EVENT_METRICS.backlog))
		registry.register({
			type: METRIC.TYPE_GAUGE,
			name: EVENT_METRICS.backlog,
			labelNames: ["topic", "group"],
			unit: "event",
			description: "Events stored but not yet acknowledged by a consumer group",
		});
}

function increment(broker: ServiceBroker, name: CounterName, labels: Record<string, string>, value = 1): void {
	if (!broker.isMetricsEnabled()) return;
	registerEventMetrics(broker);
	broker.metrics.increment(name, labels, value);
}

export function countPublished(broker: ServiceBroker, topic: string, value = 1): void {
	increment(broker, EVENT_METRICS.published, { topic }, value);
}

export function countHandled(broker: ServiceBroker, topic: string, group: string, value = 1): void {
	increment(broker, EVENT_METRICS.handled, { topic, group }, value);
}

export function countRetried(broker: ServiceBroker, topic: string, group: string, value = 1): void {
	increment(broker, EVENT_METRICS.retried, { topic, group }, value);
}

export function countDeadLettered(broker: ServiceBroker, topic: string, group: string, value = 1): void {
	increment(broker, EVENT_METRICS.deadLettered, { topic, group }, value);
}

export function setBacklog(broker: ServiceBroker, topic: string, group: string, value: number): void {
	if (!broker.isMetricsEnabled()) return;
	registerEventMetrics(broker);
	broker.metrics.set(EVENT_METRICS.backlog, value, { topic, group });
}

/** True when broker.channelAdapter counts published/handled itself (the SQLite adapter). */
export function adapterCountsEvents(broker: ServiceBroker): boolean {
	const adapter = (broker as ServiceBroker & { channelAdapter?: Partial<CountsEventMetrics> }).channelAdapter;
	return adapter?.countsEventMetrics === true;
}

/** Mixin: after sendToChannel resolved. */
export function recordPublished(broker: ServiceBroker, topic: string): void {
	if (!adapterCountsEvents(broker)) countPublished(broker, topic);
}

/** Mixin: after a consumer's handler completed for an event. */
export function recordHandled(broker: ServiceBroker, topic: string, group: string): void {
	if (!adapterCountsEvents(broker)) countHandled(broker, topic, group);
}

/** Mixin: a handler failed and will be tried again within the same delivery. */
export function recordRetried(broker: ServiceBroker, topic: string, group: string): void {
	countRetried(broker, topic, group);
}

/** Mixin: a handler failed every attempt and the envelope went to the dead-letter topic. */
export function recordDeadLettered(broker: ServiceBroker, topic: string, group: string): void {
	countDeadLettered(broker, topic, group);
}

/** Reads a counter or gauge value for one label set (tests, bench, health); 0 when absent. */
export function eventMetricValue(broker: ServiceBroker, name: string, labels: Record<string, string>): number {
	if (!broker.isMetricsEnabled() || !broker.metrics.hasMetric(name)) return 0;
	const metric = broker.metrics.getMetric(name) as unknown as {
		get(labels: Record<string, string>): { value: number } | null;
	};
	return metric.get(labels)?.value ?? 0;
}
