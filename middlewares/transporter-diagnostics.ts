/**
 * A transporter that cannot be reached is something to wait for (NATS may come up after the node in
 * a rolling start), so the node stays live but not ready and retries; what it must not be is silent.
 * Each failed attempt is one line with the address (password hidden) and the cause, e.g.
 *   Cannot reach the transporter at nats://127.0.0.1:1 (CONNECTION_REFUSED); retrying every 5 s: /live answers, /ready is 503 until connected
 * Once connected after failures, one line says so.
 */
import { ServiceBroker } from "moleculer";
import { redactUrl } from "../lib/infra/config-check";
import { AppMiddleware } from "./types";

interface TransporterError {
	error?: { code?: string; message?: string; name?: string };
	module?: string;
}

export function transporterDiagnosticsMiddleware(address: string): AppMiddleware {
	let failures = 0;
	return {
		name: "TransporterDiagnostics",
		created(broker: ServiceBroker) {
			if (!broker.transit) return;
			broker.localBus.on("$transporter.error", (payload: TransporterError) => {
				if (broker.started) return; // after start-up the transporter reconnects and logs by itself
				failures++;
				const e = payload?.error ?? {};
				const cause =
					[e.code, e.message && e.message !== e.code ? e.message : null].filter(Boolean).join(": ") || "unknown error";
				broker.logger.error(
					{ transporter: redactUrl(address), cause, attempt: failures },
					`Cannot reach the transporter at ${redactUrl(address)} (${cause}); retrying every 5 s: /live answers, /ready is 503 until connected`,
				);
			});
			broker.localBus.on("$transporter.connected", () => {
				if (failures > 0)
					broker.logger.info(
						`Connected to the transporter at ${redactUrl(address)} after ${failures} failed attempt(s)`,
					);
				failures = 0;
			});
		},
	};
}
