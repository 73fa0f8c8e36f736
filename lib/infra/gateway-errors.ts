/**
 * The gateway's error answer: the status and body of lib/infra/http-errors.ts in the caller's
 * language, with X-Request-Id, and Retry-After / RateLimit-* where they apply.
 */
import type { ServerResponse } from "http";
import type { LoggerInstance } from "moleculer";
import type { IncomingRequest, Route } from "moleculer-web";
import type { AuthUser } from "./auth";
import { requestLocale } from "./gateway-requests";
import { errorBody, ErrorLike, errorStatus, isNoLiveInstance } from "./http-errors";
import { copyRateLimitHeaders } from "./rate-limit-store";

/** A route with moleculer-web's rate limiter (its typings leave out the store it keeps). */
type RateLimitedRoute = Route & { rateLimit?: { store?: { resetTime: number } } };

const SERVICE_UNAVAILABLE_RETRY_AFTER_S = 5;

export function writeErrorResponse(
	req: IncomingRequest,
	res: ServerResponse,
	err: ErrorLike,
	logger: LoggerInstance,
): void {
	const status = errorStatus(err);
	const user = (req.$ctx?.meta as { user?: AuthUser } | undefined)?.user;
	const body = errorBody(err, requestLocale(req, user));
	if (status >= 500)
		logger.error({ requestId: req.$ctx?.requestID, url: req.url }, `Request failed: ${err && err.message}`);
	res.setHeader("Content-Type", "application/json; charset=utf-8");
	res.setHeader("Content-Language", requestLocale(req, user));
	if (req.$ctx?.requestID) res.setHeader("X-Request-Id", req.$ctx.requestID);
	if (status === 503 && isNoLiveInstance(err)) res.setHeader("Retry-After", String(SERVICE_UNAVAILABLE_RETRY_AFTER_S));
	if (status === 429) {
		// An account blocked after failed sign-ins says how long; a rate limit, when its window ends.
		const data = err.data as { retryAfterSeconds?: unknown } | undefined;
		const store = (req.$route as RateLimitedRoute | undefined)?.rateLimit?.store;
		const seconds =
			typeof data?.retryAfterSeconds === "number"
				? data.retryAfterSeconds
				: store
					? Math.max(1, Math.ceil((store.resetTime - Date.now()) / 1000))
					: 60;
		res.setHeader("Retry-After", String(seconds));
		copyRateLimitHeaders(res);
	}
	res.writeHead(status);
	res.end(JSON.stringify(body));
}
