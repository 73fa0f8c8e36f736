/**
 * Shared set-up for the split-process flow tests: the six service groups of the deployment
 * (k8s/, docker-compose.yml) and a Market (test/helpers/market.ts) whose broker is a member of
 * the cluster, so the e2e helpers (createSupplier, createCustomer, ...) work unchanged over NATS.
 */
import { eventRecorder } from "../helpers/broker";
import { Cluster, NodeSpec } from "../helpers/cluster";
import { client } from "../helpers/http";
import { Market } from "../helpers/market";

export const GROUPS = {
	gateway: ["api"],
	onboarding: ["users", "invitations", "verification", "proofs"],
	orders: ["orders", "payments"],
	products: ["products"],
	couriers: ["couriers"],
	watch: ["notifications", "analytics", "alerts", "reviews", "receipts"],
} as const;

export function group(name: keyof typeof GROUPS, env?: Record<string, string>): NodeSpec {
	return { name, services: [...GROUPS[name]], env };
}

/** Env of the e2e market (fast simulated provider, no background timers) for every node. */
export const MARKET_ENV = {
	RATE_LIMIT_MAX: "100000",
	// Generous: on a loaded 2-core CI machine the simulated provider's answer can take over 150 ms,
	// and a charge that times out cancels the order (the flows here are about the happy path).
	PAYMENT_PROVIDER_TIMEOUT_MS: "2000",
	PIX_AUTO_CONFIRM_MS: "0",
	RECONCILE_INTERVAL_MS: "0",
	EVENT_RETRY_BASE_MS: "20",
};

/** A Market over the cluster: its broker joins the cluster and records every business event. */
export async function marketOver(cluster: Cluster, waitFor: string[]): Promise<Market> {
	const events = eventRecorder(`recorder-${cluster.namespace}`);
	const broker = await cluster.joinBroker([events.schema]);
	await broker.waitForServices(waitFor, 20_000);
	return { broker, api: client(cluster.gatewayUrl), events, stop: () => broker.stop() };
}
