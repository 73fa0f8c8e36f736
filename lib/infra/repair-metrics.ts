/**
 * `gasrapido_repairs_total{kind}`: what the crash-repair jobs fixed (orders confirmed or cancelled
 * after a lost payment outcome, stock calls finished). No-ops when metrics are disabled.
 */
import { METRIC, ServiceBroker } from "moleculer";

export const REPAIRS_METRIC = "gasrapido_repairs_total";

/** Registers the counter once per broker. */
export function registerRepairMetric(broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled() || broker.metrics.hasMetric(REPAIRS_METRIC)) return;
	broker.metrics.register({
		type: METRIC.TYPE_COUNTER,
		name: REPAIRS_METRIC,
		labelNames: ["kind"],
		description: "Records repaired by crash-repair jobs",
	});
}

export function countRepair(broker: ServiceBroker, kind: string): void {
	if (broker.isMetricsEnabled() && broker.metrics.hasMetric(REPAIRS_METRIC))
		broker.metrics.increment(REPAIRS_METRIC, { kind });
}
