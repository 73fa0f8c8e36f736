/**
 * What the gateway reads off a request before calling an action: the client's address, the user
 * its bearer token names (verified once per request), the key its rate limit counts against and
 * the language it reads.
 */
import type { IncomingMessage } from "http";
import { AuthUser, bearerToken, verifyToken } from "./auth";
import { appError } from "./errors";
import { Locale, pickLocale } from "./i18n";

/** A request as the gateway sees it: plus the token's user once verified (an Error when it failed). */
export type TokenRequest = IncomingMessage & { $tokenUser?: AuthUser | Error | null };
export type AliasRequest = TokenRequest & { $alias?: { action?: string } };

/** The client's address: the socket's, or behind a trusted proxy the first X-Forwarded-For hop. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
	if (trustProxy) {
		const forwarded = req.headers["x-forwarded-for"];
		const first = typeof forwarded === "string" ? forwarded.split(",")[0].trim() : "";
		if (first) return first;
	}
	return req.socket?.remoteAddress || "unknown";
}

/**
 * The user a request's bearer token names (null without a token), verified once per request:
 * the rate limiter and the authentication step both need it.
 */
export function userFromRequest(req: TokenRequest): AuthUser | null {
	if (req.$tokenUser !== undefined) {
		if (req.$tokenUser instanceof Error) throw req.$tokenUser;
		return req.$tokenUser;
	}
	const token = bearerToken(req.headers.authorization);
	try {
		req.$tokenUser = token ? verifyToken(token) : null;
	} catch (err) {
		const expired = !!err && (err as Error).name === "TokenExpiredError";
		req.$tokenUser = appError(expired ? "TOKEN_EXPIRED" : "INVALID_TOKEN");
		throw req.$tokenUser;
	}
	return req.$tokenUser;
}

/**
 * Sign-in and enrolment endpoints. They are limited per client address whatever token the request
 * carries (a valid token must not move a password guess into the user's own bucket), against the
 * general limit and the stricter AUTH_RATE_LIMIT_MAX; per target account in the users service.
 */
const AUTH_ACTIONS = new Set(["users.login", "users.register", "users.mfaSetup", "users.mfaEnable"]);

export function isAuthRequest(req: AliasRequest): boolean {
	return AUTH_ACTIONS.has(req.$alias?.action ?? "");
}

export function rateLimitKey(req: AliasRequest, trustProxy: boolean): string {
	if (isAuthRequest(req)) return `ip:${clientIp(req, trustProxy)}`;
	try {
		const user = userFromRequest(req);
		if (user) return `user:${user.id}`;
	} catch {
		// An invalid token is refused later with 401; count it against the client's address.
	}
	return `ip:${clientIp(req, trustProxy)}`;
}

/** The language of a request: its Accept-Language, else the signed-in user's stored locale, else pt-BR. */
export function requestLocale(req: IncomingMessage, user?: { locale?: string } | null): Locale {
	return pickLocale(req.headers["accept-language"], user?.locale);
}
