/**
 * Liveness and readiness of one node. Live: the process answers. Ready: the broker has started,
 * is connected to the transporter (when there is one), every local service has started and its
 * store is up, and the services named in REQUIRED_SERVICES are reachable.
 */
import http from "http";
import { Service, ServiceBroker } from "moleculer";
import { config } from "./config";

/** The broker's internals read here, which Moleculer's typings leave out (or type as `any`). */
interface BrokerInternals {
	started?: boolean;
	transit?: {
		connected: boolean;
		tx?: { client?: { isClosed?: () => boolean; protocol?: { connected?: boolean } } };
	};
	registry: { hasService(name: string): boolean };
}

/** What a local service may add: DbMixin's store check, the service's own readiness. */
type CheckedService = Service & { storeIsUp?: () => boolean; isReady?: () => boolean };

export interface Readiness {
	ready: boolean;
	nodeID: string;
	checks: Record<string, boolean>;
}

/**
 * Moleculer's NATS transporter (nats v2 client) does not clear `transit.connected` while the
 * client is reconnecting, so ask the client itself when there is one.
 */
function transporterConnected(b: BrokerInternals): boolean {
	if (!b.transit) return true;
	if (!b.transit.connected) return false;
	const client = b.transit.tx && b.transit.tx.client;
	if (client && typeof client.isClosed === "function" && client.isClosed()) return false;
	if (client && client.protocol && client.protocol.connected === false) return false;
	return true;
}

export function nodeReadiness(broker: ServiceBroker): Readiness {
	const b = broker as unknown as BrokerInternals;
	const checks: Record<string, boolean> = {
		brokerStarted: !!b.started,
		transporter: transporterConnected(b),
	};
	for (const svc of broker.services as CheckedService[]) {
		if (svc.name.startsWith("$") || svc.name.startsWith("channels:")) continue;
		const storeUp = typeof svc.storeIsUp === "function" ? !!svc.storeIsUp() : true;
		const ownCheck = typeof svc.isReady === "function" ? !!svc.isReady() : true;
		checks[`service:${svc.name}`] = storeUp && ownCheck && !!b.started;
	}
	for (const name of config().requiredServices.split(",").filter(Boolean)) {
		checks[`requires:${name}`] = b.registry.hasService(name);
	}
	return { ready: Object.values(checks).every(Boolean), nodeID: broker.nodeID, checks };
}

/** A small HTTP server on HEALTH_PORT for Kubernetes probes: GET /live and GET /ready. */
export function startHealthServer(broker: ServiceBroker, port: number): http.Server {
	const server = http.createServer((req, res) => {
		const send = (status: number, body: unknown) => {
			res.writeHead(status, { "Content-Type": "application/json" });
			res.end(JSON.stringify(body));
		};
		if (req.url === "/live") return send(200, { live: true, nodeID: broker.nodeID });
		if (req.url === "/ready") {
			const readiness = nodeReadiness(broker);
			return send(readiness.ready ? 200 : 503, readiness);
		}
		send(404, { error: "not found" });
	});
	server.listen(port);
	return server;
}
