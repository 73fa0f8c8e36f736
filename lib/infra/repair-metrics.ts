/** The reconciliation's repairs as a Prometheus counter, gasrapido_repairs_total{kind}. No-op without metrics. */
import { METRIC, ServiceBroker } from "moleculer";

export const REPAIRS_METRIC = "gasrapido_repairs_total";

export function registerRepairMetric(broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled() || broker.metrics.hasMetric(REPAIRS_METRIC)) return;
	broker.metrics.register({
		type: METRIC.TYPE_COUNTER,
		name: REPAIRS_METRIC,
		labelNames: ["kind"],
		unit: "repair",
		description: "Repairs made by reconciliation jobs, by kind",
	});
}

export function countRepair(broker: ServiceBroker, kind: string): void {
	if (!broker.isMetricsEnabled()) return;
	registerRepairMetric(broker);
	broker.metrics.increment(REPAIRS_METRIC, { kind }, 1);
}
