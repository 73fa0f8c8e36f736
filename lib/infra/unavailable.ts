/**
 * "Not available right now, retry shortly" at the gateway: during a restart or a failover a request
 * must get 503 with Retry-After (a client retries it), never a 404 or a 500 (a client gives up).
 *
 * Temporarily unavailable:
 * - the service behind the route, or one it calls, has no live instance: ServiceNotAvailableError,
 *   ServiceNotFoundError (not registered yet, or its last node just left), moleculer-web's
 *   ServiceUnavailableError, RequestRejectedError, BrokerDisconnectedError;
 * - the gateway's node is starting (its routes appear as its services start) or stopping: then a
 *   route not found (moleculer-web's NotFoundError) is a service not registered yet, or gone already.
 */
import { Errors } from "moleculer";

const NO_LIVE_INSTANCE = new Set([
	"ServiceNotAvailableError",
	"ServiceNotFoundError",
	"ServiceUnavailableError",
	"RequestRejectedError",
	"BrokerDisconnectedError",
]);

interface NamedError {
	name?: string;
	data?: { action?: string; nodeID?: string } | null;
}

/** The node as the gateway sees it: started (every local service up), stopping. */
export interface NodeState {
	started: boolean;
	stopping?: boolean;
}

export function isNoLiveInstance(err: unknown): boolean {
	return !!err && NO_LIVE_INSTANCE.has((err as NamedError).name ?? "");
}

/** Whether `err` means "retry shortly" (503 with Retry-After) rather than what its own status says. */
export function isTemporarilyUnavailable(err: unknown, node: NodeState, routesReady: boolean): boolean {
	if (isNoLiveInstance(err)) return true;
	const settling = !node.started || !!node.stopping || !routesReady;
	return settling && !!err && (err as NamedError).name === "NotFoundError";
}

/**
 * The error the gateway answers for a temporarily unavailable request: moleculer-web's
 * ServiceUnavailableError shape (503, SERVICE_UNAVAILABLE), keeping the action it was for.
 */
export function serviceUnavailable(err: unknown): Errors.MoleculerError {
	const action = (err as NamedError | null)?.data?.action;
	const unavailable = new Errors.MoleculerRetryableError(
		"No instance of the service behind this route is available right now; retry shortly",
		503,
		"SERVICE_UNAVAILABLE",
		action ? { action } : undefined,
	);
	unavailable.name = "ServiceUnavailableError";
	return unavailable;
}
