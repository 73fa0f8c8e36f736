/**
 * Per-node liveness/readiness on HEALTH_PORT, so every pod has probes, not only the gateway.
 * The server starts when the broker is created (not when it has started): /live answers while the
 * node is still connecting to an unreachable transporter, and /ready says 503 with the reason.
 * It stays up until the broker has stopped, so /ready answers 503 during a graceful shutdown.
 */
import http from "http";
import { startHealthServer } from "../lib/infra/health";
import { exitWhenListenFails } from "../lib/infra/startup-failure";
import { AppMiddleware } from "./types";

export function healthServerMiddleware(port: number): AppMiddleware {
	let server: http.Server | null = null;
	return {
		name: "HealthServer",
		created(broker) {
			if (port <= 0) return;
			server = startHealthServer(broker, port);
			exitWhenListenFails(server, broker.logger, "HEALTH_PORT", () => port);
		},
		stopped() {
			if (server) server.close();
			server = null;
		},
	};
}
