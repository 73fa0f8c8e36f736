/**
 * A tiny HTTP client for tests (Node's fetch), returning status, headers and parsed JSON.
 * With OPENAPI_CONTRACT_LOG=<file> every exchange is appended to that file (one JSON line), for
 * checking the suite's answers against the OpenAPI document (test/helpers/openapi-contract.ts).
 */
import { appendFileSync } from "fs";

export interface HttpResult {
	status: number;
	headers: Headers;
	body: any;
	text: string;
}

export async function http(
	base: string,
	method: string,
	path: string,
	opts: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
	const headers: Record<string, string> = { ...(opts.headers || {}) };
	if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
	let body: any;
	if (opts.raw !== undefined) body = opts.raw;
	else if (opts.body !== undefined) {
		body = JSON.stringify(opts.body);
		headers["Content-Type"] = headers["Content-Type"] || "application/json";
	}
	const res = await fetch(base + path, { method, headers, body });
	const text = await res.text();
	let parsed: any = null;
	try {
		parsed = text ? JSON.parse(text) : null;
	} catch {
		parsed = null;
	}
	const log = process.env.OPENAPI_CONTRACT_LOG;
	if (log)
		appendFileSync(
			log,
			JSON.stringify({ method, path, status: res.status, contentType: res.headers.get("content-type"), body: parsed }) +
				"\n",
		);
	return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Bound to one gateway: api.get("/api/x", { token }) etc. */
export function client(base: string) {
	return {
		get: (path: string, opts: any = {}) => http(base, "GET", path, opts),
		post: (path: string, body?: unknown, opts: any = {}) => http(base, "POST", path, { ...opts, body }),
		put: (path: string, body?: unknown, opts: any = {}) => http(base, "PUT", path, { ...opts, body }),
		del: (path: string, opts: any = {}) => http(base, "DELETE", path, opts),
		raw: (method: string, path: string, opts: any) => http(base, method, path, opts),
	};
}
