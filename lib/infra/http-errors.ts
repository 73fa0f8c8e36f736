/**
 * How the gateway turns an error thrown anywhere under a request into an HTTP status and a JSON
 * body `{ name, message, code, type, data }`. Bodies name no internals: no node ids, no action
 * names (Moleculer's validator and its "not found / not available" errors put both in `data`).
 */
import { Errors } from "moleculer";

/** What an error thrown anywhere under a request may carry (Moleculer's, moleculer-web's, body-parser's, busboy's). */
export interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	type?: string;
	data?: unknown;
}

export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	data?: unknown;
}

/**
 * No live instance of the service behind a route: the broker's ServiceNotAvailableError (a node that
 * vanished mid-request, retries exhausted), moleculer-web's ServiceUnavailableError (a known route
 * whose service has no instance now) and RequestRejectedError. Moleculer gives the first a 404, which
 * made a dead service look like a missing route; it is a 503 with Retry-After.
 */
const NO_LIVE_INSTANCE = new Set(["ServiceNotAvailableError", "ServiceUnavailableError", "RequestRejectedError"]);

export function isNoLiveInstance(err: ErrorLike | null | undefined): boolean {
	return !!err && NO_LIVE_INSTANCE.has(err.name ?? "");
}

/**
 * A multipart body busboy could not parse: no boundary, garbage, or cut off mid-part. busboy
 * (@fastify/busboy and its dicer) throws or emits plain Errors with these messages; the file stream
 * of a part cut short fails with "… terminated early due to unexpected end of multipart data".
 */
const MALFORMED_MULTIPART =
	/^(Multipart: Boundary not found|Boundary required|Unexpected end of multipart data|Unexpected end of form|Malformed part header|Part terminated early|.* terminated early due to unexpected end of multipart data)/;

export function isMalformedMultipart(err: ErrorLike | null | undefined): boolean {
	return (
		!!err &&
		!(err instanceof Errors.MoleculerError) &&
		typeof err.message === "string" &&
		MALFORMED_MULTIPART.test(err.message)
	);
}

export const malformedMultipart = () =>
	new Errors.MoleculerClientError(
		"The multipart/form-data body is malformed or was cut off",
		400,
		"MALFORMED_MULTIPART",
	);

/** The boundary of a multipart/form-data Content-Type header, or null when there is none. */
export function multipartBoundary(contentType: string | undefined): string | null {
	if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
	const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
	return match ? (match[1] ?? match[2]) : null;
}

export function errorStatus(err: ErrorLike | null | undefined): number {
	if (isNoLiveInstance(err)) return 503;
	if (isMalformedMultipart(err)) return 400;
	if (err && typeof err.code === "number" && err.code >= 400 && err.code < 600) return err.code;
	if (err && typeof err.status === "number" && err.status >= 400 && err.status < 600) return err.status;
	return 500;
}

/** Keys that name internals: the node that answered, the action behind the route. */
const INTERNAL_KEYS = new Set(["nodeID", "action", "event"]);

/** `data` without internal names: one level of objects, or an array of them (validation errors). */
export function publicData(data: unknown): unknown {
	const strip = (value: unknown): unknown => {
		if (!value || typeof value !== "object" || Array.isArray(value)) return value;
		const out: Record<string, unknown> = {};
		for (const [k, v] of Object.entries(value)) if (!INTERNAL_KEYS.has(k)) out[k] = v;
		return out;
	};
	if (Array.isArray(data)) return data.map(strip);
	const stripped = strip(data);
	return stripped && typeof stripped === "object" && Object.keys(stripped).length === 0 ? undefined : stripped;
}

export function errorBody(err: ErrorLike, status: number): ErrorBody {
	if (isNoLiveInstance(err))
		return {
			name: "ServiceUnavailableError",
			message: "No instance of the service behind this route is available right now; retry shortly",
			code: 503,
			type: "SERVICE_UNAVAILABLE",
		};
	if (isMalformedMultipart(err)) {
		const e = malformedMultipart();
		return { name: "BadRequest", message: e.message, code: 400, type: e.type };
	}
	if (status === 413)
		return { name: "PayloadTooLarge", message: "Request body is too large", code: 413, type: "PAYLOAD_TOO_LARGE" };
	if (status === 400 && err && err.type === "entity.parse.failed")
		return { name: "BadRequest", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" };
	if (status >= 500 && !(err instanceof Errors.MoleculerError))
		return { name: "InternalError", message: "Internal server error", code: status, type: "INTERNAL_ERROR" };
	if (status === 404 && err.name === "ServiceNotFoundError")
		return { name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" };
	return {
		name: err.name || "Error",
		message: err.message || "Error",
		code: status,
		type: err.type || "ERROR",
		data: publicData(err.data),
	};
}
