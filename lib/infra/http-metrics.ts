/**
 * HTTP metrics of the gateway, by route (the alias pattern, e.g. `/api/orders/:id`, never the raw
 * URL, so the label set stays small) and status:
 *   gasrapido_http_requests_total{method, route, status}
 *   gasrapido_http_request_duration_seconds{method, route, status}   (histogram)
 * Requests that matched no API route are `route="unmatched"` (under /api) or `route="static"` (the
 * web app). A client that went away before the answer is status "499".
 */
import http from "http";
import { ServiceBroker } from "moleculer";

export const HTTP_METRICS = {
	requests: "gasrapido.http.requests",
	duration: "gasrapido.http.request.duration",
} as const;

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface RoutedRequest extends http.IncomingMessage {
	/** Set by moleculer-web once a route alias matched. */
	$alias?: { fullPath?: string };
	/** Set by moleculer-web before it strips the route's prefix from `url`. */
	originalUrl?: string;
}

export function routeLabel(req: RoutedRequest): string {
	if (req.$alias?.fullPath) return req.$alias.fullPath;
	return (req.originalUrl ?? req.url ?? "").startsWith("/api") ? "unmatched" : "static";
}

export function instrumentHttpServer(server: http.Server, broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled()) return;
	const metrics = broker.metrics;
	const labelNames = ["method", "route", "status"];
	if (!metrics.getMetric(HTTP_METRICS.requests))
		metrics.register({
			type: "counter",
			name: HTTP_METRICS.requests,
			labelNames,
			description: "HTTP requests answered by the gateway, by route and status",
		});
	if (!metrics.getMetric(HTTP_METRICS.duration))
		metrics.register({
			type: "histogram",
			name: HTTP_METRICS.duration,
			labelNames,
			unit: "second",
			buckets: BUCKETS,
			description: "Time from request to the end of the answer (SSE: until the stream closed)",
		});
	server.on("request", (req: RoutedRequest, res: http.ServerResponse) => {
		const started = process.hrtime.bigint();
		let recorded = false;
		const record = () => {
			if (recorded) return;
			recorded = true;
			const labels = {
				method: METHODS.has(req.method ?? "") ? req.method : "OTHER",
				route: routeLabel(req),
				status: res.writableFinished ? String(res.statusCode) : "499",
			};
			metrics.increment(HTTP_METRICS.requests, labels);
			metrics.observe(HTTP_METRICS.duration, Number(process.hrtime.bigint() - started) / 1e9, labels);
		};
		res.once("finish", record);
		res.once("close", record);
	});
}
