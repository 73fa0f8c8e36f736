/**
 * Moleculer errors with a type from the error catalogue (lib/contracts/error-catalogue.ts), which
 * decides their HTTP status; the gateway answers `{ type, message, code, data? }` in the caller's
 * language. Client mistakes are MoleculerClientError (4xx); our own failures MoleculerError (5xx).
 * The message given here is the English detail; lib/infra/i18n.ts has its Portuguese.
 */
import { Errors } from "moleculer";
import { ERROR_CATALOGUE, ErrorType, errorStatusOf } from "../contracts/error-catalogue";

const { MoleculerClientError, MoleculerError } = Errors;

/** An error of a catalogued type: its status from the catalogue, its message the catalogue's (English) unless given. */
export function appError(type: ErrorType, message?: string, data?: unknown): Errors.MoleculerError {
	const status = errorStatusOf(type);
	const text = message ?? ERROR_CATALOGUE[type].message.en;
	return status >= 500
		? new MoleculerError(text, status, type, data)
		: new MoleculerClientError(text, status, type, data);
}

export const notFound = (what: string, id?: string) => appError("NOT_FOUND", `${what} not found`, { what, id });

export const conflict = (message: string, data?: unknown) => appError("CONFLICT", message, data);

export const forbidden = (message = "You are not allowed to do this") => appError("FORBIDDEN", message);

export const unauthorized = (message = "Authentication required", type: ErrorType = "UNAUTHORIZED") =>
	appError(type, message);

export const unprocessable = (message: string, data?: unknown) => appError("UNPROCESSABLE", message, data);

export const badRequest = (message: string, data?: unknown) => appError("BAD_REQUEST", message, data);

/** A client error of a specific catalogued type (INVITE_EXPIRED, UNSUPPORTED_FILE_TYPE, MFA_REQUIRED…). */
export const clientError = (type: ErrorType, message?: string, data?: unknown) => appError(type, message, data);

/** True for the 409 that DbMixin throws when a unique index refuses a write (already there). */
export const isConflict = (err: unknown): boolean =>
	err instanceof MoleculerClientError && (err as { code?: number }).code === 409;
