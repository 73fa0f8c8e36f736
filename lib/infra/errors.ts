/**
 * Moleculer errors with a type and data, mapped by the gateway to HTTP status codes.
 * Client mistakes are MoleculerClientError (4xx); our own failures MoleculerError (5xx).
 */
import { Errors } from "moleculer";

const { MoleculerClientError } = Errors;

export const notFound = (what: string, id?: string) =>
	new MoleculerClientError(`${what} not found`, 404, "NOT_FOUND", { what, id });

export const conflict = (message: string, data?: unknown) => new MoleculerClientError(message, 409, "CONFLICT", data);

export const forbidden = (message = "You are not allowed to do this") =>
	new MoleculerClientError(message, 403, "FORBIDDEN");

export const unauthorized = (message = "Authentication required", type = "UNAUTHORIZED") =>
	new MoleculerClientError(message, 401, type);

export const unprocessable = (message: string, data?: unknown) =>
	new MoleculerClientError(message, 422, "UNPROCESSABLE", data);

export const badRequest = (message: string, data?: unknown) =>
	new MoleculerClientError(message, 400, "BAD_REQUEST", data);

/** A client error with its own status and type (410 INVITE_EXPIRED, 415 UNSUPPORTED_FILE_TYPE, 403 MFA_REQUIRED…). */
export const clientError = (code: number, type: string, message: string, data?: unknown) =>
	new MoleculerClientError(message, code, type, data);

/** True for the 409 that DbMixin throws when a unique index refuses a write (already there). */
export const isConflict = (err: unknown): boolean =>
	err instanceof MoleculerClientError && (err as { code?: number }).code === 409;
