/**
 * Graceful shutdown, in the order an operator expects on SIGTERM (Kubernetes: after preStop):
 *  1. readiness answers 503 at once (the broker's `started` flag drops when stop() begins, and
 *     /ready checks it), and the node announces itself without services to the cluster;
 *  2. tracking (SSE) streams this node produces are told to reconnect and ended;
 *  3. running requests finish (Moleculer's tracked contexts, bounded by SHUTDOWN_TIMEOUT_MS), and
 *     the gateway drains its HTTP connections by the same deadline (lib/infra/http-drain.ts);
 *  4. if anything still hangs past the deadline (plus a margin), a node started by the runner exits
 *     with code 1 and one log line saying so, instead of never exiting.
 */
import { ServiceBroker } from "moleculer";
import { closeAllTrackingStreams } from "../lib/infra/tracking-stream";
import { AppMiddleware } from "./types";

export interface ShutdownAwareBroker extends ServiceBroker {
	/** Date.now() by which the shutdown must be over; set when stopping begins. */
	shutdownDeadline?: number;
	/** Set by moleculer-runner on the brokers it starts (scripts/start.js). */
	runner?: unknown;
}

/** The deadline a service should drain by (now + timeout when the broker is not stopping yet). */
export function shutdownDeadline(broker: ServiceBroker, timeoutMs: number): number {
	return (broker as ShutdownAwareBroker).shutdownDeadline ?? Date.now() + timeoutMs;
}

/** Past the deadline, this much more for transporter disconnect and the last log lines. */
const HARD_EXIT_MARGIN_MS = 3000;

export function gracefulShutdownMiddleware(timeoutMs: number): AppMiddleware {
	return {
		name: "GracefulShutdown",
		stopping(broker) {
			const b = broker as ShutdownAwareBroker;
			b.shutdownDeadline = Date.now() + timeoutMs;
			const streams = closeAllTrackingStreams();
			broker.logger.info(
				{ shutdownTimeoutMs: timeoutMs, trackingStreamsClosed: streams },
				`Shutting down: readiness is 503, ${streams} tracking stream(s) told to reconnect, running requests get up to ${timeoutMs} ms`,
			);
			if (b.runner) {
				const timer = setTimeout(() => {
					broker.logger.fatal(
						`Shutdown did not finish within SHUTDOWN_TIMEOUT_MS (${timeoutMs} ms) + ${HARD_EXIT_MARGIN_MS} ms: exiting now`,
					);
					process.exit(1);
				}, timeoutMs + HARD_EXIT_MARGIN_MS);
				timer.unref();
			}
		},
	};
}
