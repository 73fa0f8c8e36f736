/**
 * How the gateway turns an error thrown anywhere under a request into an HTTP status and a JSON
 * body `{ type, message, code, data? }`: type and status from the error catalogue, the message in
 * the caller's language, field problems always as `data.fields: [{ field, type, message }]`. Bodies name no internals: no node ids, no action
 * names (Moleculer's validator and its "not found / not available" errors put both in `data`).
 */
import { Errors } from "moleculer";
import { ERROR_CATALOGUE, ErrorType, genericType, isErrorType } from "../contracts/error-catalogue";
import { appError } from "./errors";
import { DEFAULT_LOCALE, errorMessage, Locale, portugueseOf } from "./i18n";
import { validationMessage } from "./validation-messages";

/** What an error thrown anywhere under a request may carry (Moleculer's, moleculer-web's, body-parser's, busboy's). */
export interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	type?: string;
	data?: unknown;
}

/** What every error answer is (the type's status and meaning: lib/contracts/error-catalogue.ts). */
export interface ErrorBody {
	type: ErrorType;
	message: string;
	code: number;
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

export const malformedMultipart = () => appError("MALFORMED_MULTIPART");

/** The boundary of a multipart/form-data Content-Type header, or null when there is none. */
export function multipartBoundary(contentType: string | undefined): string | null {
	if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
	const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
	return match ? (match[1] ?? match[2]) : null;
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

/** Types other origins (Moleculer, moleculer-web) use for a problem the catalogue names otherwise. */
const FOREIGN_TYPES: Record<string, ErrorType> = {
	RATE_LIMIT_EXCEEDED: "RATE_LIMITED",
	NO_TOKEN: "UNAUTHORIZED",
	SERVICE_NOT_FOUND: "NOT_FOUND",
	SERVICE_NOT_AVAILABLE: "SERVICE_UNAVAILABLE",
	INVALID_REQUEST_BODY: "INVALID_JSON",
	REQUEST_REJECTED: "SERVICE_UNAVAILABLE",
};

/**
 * The catalogue type of an error thrown anywhere under a request, and whether it is the thrower's
 * own (its message is then shown, translated) or a foreign one (the catalogue's message is shown).
 * Its HTTP status is the catalogue's for that type: nowhere else.
 */
export function errorType(err: ErrorLike | null | undefined): { type: ErrorType; own: boolean } {
	if (isNoLiveInstance(err)) return { type: "SERVICE_UNAVAILABLE", own: false };
	if (isMalformedMultipart(err)) return { type: "MALFORMED_MULTIPART", own: false };
	if (!err) return { type: "INTERNAL_ERROR", own: false };
	const raw =
		typeof err.code === "number" && err.code >= 400 && err.code < 600
			? err.code
			: typeof err.status === "number" && err.status >= 400 && err.status < 600
				? err.status
				: 500;
	if (raw === 400 && err.type === "entity.parse.failed") return { type: "INVALID_JSON", own: false };
	if (raw >= 500 && !(err instanceof Errors.MoleculerError)) return { type: "INTERNAL_ERROR", own: false };
	if (isErrorType(err.type)) return { type: err.type, own: true };
	const foreign = err.type ? FOREIGN_TYPES[err.type] : undefined;
	return { type: foreign ?? genericType(raw), own: false };
}

export function errorStatus(err: ErrorLike | null | undefined): number {
	return ERROR_CATALOGUE[errorType(err).type].status;
}

export interface FieldProblem {
	field: string;
	type: string;
	message: string;
}

type ProblemLike = { field?: unknown; type?: unknown; message?: unknown; expected?: unknown; actual?: unknown };

/** One failing field of a validation error, its message in `locale`. */
function validationProblem(p: ProblemLike, locale: Locale): FieldProblem {
	const field = String(p.field ?? "");
	const type = typeof p.type === "string" ? p.type : "invalid";
	const detail = typeof p.message === "string" ? p.message : "";
	const known = validationMessage({ type, field, expected: p.expected, actual: p.actual }, locale);
	const own = locale === "en" ? detail || null : detail ? portugueseOf(detail) : null;
	// A rule fastest-validator knows speaks from its set; a service's own check keeps its own words when translated.
	const message =
		(typeof p.type === "string" ? known : null) ?? own ?? validationMessage({ type: "invalid", field }, locale)!;
	return { field, type, message };
}

/**
 * `data` with its field problems in the one shape `data.fields: [{ field, type, message }]`: the
 * validator's array, a service's `{ field }` or `{ fields: [names] }` all become it.
 */
export function withFieldProblems(type: ErrorType, message: string, data: unknown, locale: Locale): unknown {
	if (Array.isArray(data)) {
		const problems = data.filter((p): p is ProblemLike => !!p && typeof p === "object" && "field" in p);
		return problems.length ? { fields: problems.map((p) => validationProblem(p, locale)) } : undefined;
	}
	if (!data || typeof data !== "object") return data;
	const { field, fields, ...rest } = data as { field?: unknown; fields?: unknown };
	const named = [...(typeof field === "string" ? [field] : []), ...(Array.isArray(fields) ? fields : [])];
	if (named.length === 0) return data;
	const out = named.map((f): FieldProblem =>
		f && typeof f === "object" ? validationProblem(f as ProblemLike, locale) : { field: String(f), type, message },
	);
	return { ...rest, fields: out };
}

/** The JSON body of an error: `{ type, message, code, data? }`, the message in `locale`. */
export function errorBody(err: ErrorLike, locale: Locale = DEFAULT_LOCALE): ErrorBody {
	const { type, own } = errorType(err);
	const code = ERROR_CATALOGUE[type].status;
	const message = errorMessage(type, own && type !== "VALIDATION_ERROR" ? err.message : undefined, locale);
	const data = own ? publicData(withFieldProblems(type, message, err.data, locale)) : undefined;
	return data === undefined ? { type, message, code } : { type, message, code, data };
}
