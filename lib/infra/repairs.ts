/**
 * `gasrapido_repairs_total{kind}`: what the self-repair jobs fixed (products' reservation sweep,
 * orders' payment deadline, payments' reconciliation), in Moleculer's metrics registry (Prometheus
 * on METRICS_PORT). A no-op when metrics are disabled (METRICS_PORT=0).
 */
import { METRIC, ServiceBroker } from "moleculer";

export const REPAIRS_METRIC = "gasrapido_repairs_total";

/** Registers the counter once per broker (safe to call from every service). */
export function registerRepairMetric(broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled() || broker.metrics.hasMetric(REPAIRS_METRIC)) return;
	broker.metrics.register({
		type: METRIC.TYPE_COUNTER,
		name: REPAIRS_METRIC,
		labelNames: ["kind"],
		unit: "repair",
		description: "Inconsistencies found and repaired by background jobs, by kind",
	});
}

export function countRepair(broker: ServiceBroker, kind: string, value = 1): void {
	if (!broker.isMetricsEnabled()) return;
	registerRepairMetric(broker);
	broker.metrics.increment(REPAIRS_METRIC, { kind }, value);
}
