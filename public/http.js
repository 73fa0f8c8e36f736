/**
 * Talking to the gateway: the session (token in sessionStorage, never logged), JSON requests,
 * errors with their field problems, multipart uploads, downloads and Server-Sent Events read
 * through fetch() (EventSource cannot send an Authorization header).
 */
import { lang } from "./ui.js";

const SESSION_KEY = "gasrapido.session";

export function getSession() {
	try {
		return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
	} catch {
		return null;
	}
}

export function saveSession(session) {
	sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
	sessionStorage.removeItem(SESSION_KEY);
}

/**
 * An answer that is not 2xx. Every error body is `{ type, message, code, data? }` (the message in
 * the language asked for), field problems always `data.fields: [{ field, type, message }]`.
 */
export class ApiError extends Error {
	constructor(status, body) {
		super((body && body.message) || `HTTP ${status}`);
		this.status = status;
		this.type = (body && body.type) || null;
		this.data = (body && body.data) || null;
		this.fields = (this.data && Array.isArray(this.data.fields) && this.data.fields) || [];
	}
}

function authHeaders(extra = {}) {
	const session = getSession();
	// Server messages (errors, order-history labels) in the language the app shows.
	const headers = { "Accept-Language": lang() === "en" ? "en" : "pt-BR", ...extra };
	if (session && session.token) headers.Authorization = `Bearer ${session.token}`;
	return headers;
}

function withQuery(path, query) {
	if (!query) return path;
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(query))
		if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
	const text = params.toString();
	return text ? `${path}?${text}` : path;
}

/**
 * Access tokens are short-lived: a request answered 401 TOKEN_EXPIRED trades the refresh token for
 * a new pair (POST /api/auth/refresh, once for all requests waiting on it: a refresh token works
 * once) and is sent again.
 */
let refreshing = null;

function refreshSession() {
	const session = getSession();
	if (!session || !session.refreshToken) return Promise.resolve(false);
	if (!refreshing)
		refreshing = fetch("/api/auth/refresh", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ refreshToken: session.refreshToken }),
		})
			.then(async (res) => {
				if (!res.ok) return false;
				const next = await res.json();
				saveSession({ ...getSession(), token: next.token, refreshToken: next.refreshToken, user: next.user });
				return true;
			})
			.catch(() => false)
			.finally(() => {
				refreshing = null;
			});
	return refreshing;
}

/** fetch() with the session's token, renewed once when it has expired. */
async function authedFetch(path, init = {}, extraHeaders = {}) {
	const res = await fetch(path, { ...init, headers: authHeaders(extraHeaders) });
	if (res.status !== 401 || !getSession()) return res;
	const body = await res
		.clone()
		.json()
		.catch(() => null);
	if (!body || body.type !== "TOKEN_EXPIRED" || !(await refreshSession())) return res;
	return fetch(path, { ...init, headers: authHeaders(extraHeaders) });
}

/**
 * A signed-in request that comes back 401 ends the session (expired or revoked token); a wrong MFA
 * code while enrolling is a 401 too, but the session is fine: the user types the code again.
 */
function onUnauthorized(res, body) {
	if (res.status === 401 && getSession() && !(body && body.type === "INVALID_MFA_CODE")) {
		clearSession();
		window.dispatchEvent(new CustomEvent("session-ended"));
	}
}

async function parse(res) {
	const text = await res.text();
	let body = null;
	try {
		body = text ? JSON.parse(text) : null;
	} catch {
		body = { message: text.slice(0, 200) };
	}
	if (!res.ok) {
		onUnauthorized(res, body);
		throw new ApiError(res.status, body);
	}
	return body;
}

/** JSON request to /api…; resolves with the parsed body or rejects with ApiError. */
export async function request(method, path, { body, query, headers } = {}) {
	const init = { method };
	const extra = { ...(headers || {}) };
	if (body !== undefined) {
		extra["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	return parse(await authedFetch(withQuery(path, query), init, extra));
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, opts = {}) => request("POST", path, { ...opts, body });
export const put = (path, body, opts = {}) => request("PUT", path, { ...opts, body });

/** Multipart upload: the FormData's fields go in the order they were appended. */
export async function upload(path, formData) {
	return parse(await authedFetch(path, { method: "POST", body: formData }));
}

/** Fetches a protected file (with `query`, if any) and hands it to the browser as a download. */
export async function download(path, fallbackName, query) {
	const res = await authedFetch(withQuery(path, query));
	if (!res.ok) return parse(res);
	const disposition = res.headers.get("Content-Disposition") || "";
	const match = /filename="([^"]+)"/.exec(disposition);
	const url = URL.createObjectURL(await res.blob());
	const link = Object.assign(document.createElement("a"), { href: url, download: match ? match[1] : fallbackName });
	document.body.append(link);
	link.click();
	link.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Fetches a protected file as an object URL (to show it in place); { url, type }. */
export async function blobUrl(path) {
	const res = await authedFetch(path);
	if (!res.ok) return parse(res);
	const blob = await res.blob();
	return { url: URL.createObjectURL(blob), type: blob.type || res.headers.get("Content-Type") || "" };
}

/**
 * Reads a text/event-stream response and calls onEvent(name, data) per event until the stream
 * ends or `signal` aborts. Comment lines (": keep-alive") are skipped.
 */
export async function streamEvents(path, onEvent, signal) {
	const res = await authedFetch(path, { signal }, { Accept: "text/event-stream" });
	if (!res.ok) return parse(res);
	const reader = res.body.getReader();
	const decoder = new TextDecoder();
	let buffer = "";
	for (;;) {
		const { value, done } = await reader.read();
		if (done) break;
		buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
		let end;
		while ((end = buffer.indexOf("\n\n")) >= 0) {
			const block = buffer.slice(0, end);
			buffer = buffer.slice(end + 2);
			const event = parseSseBlock(block);
			if (event) onEvent(event.name, event.data);
		}
	}
}

export function parseSseBlock(block) {
	let name = "message";
	const data = [];
	for (const line of block.split("\n")) {
		if (!line || line.startsWith(":")) continue;
		const colon = line.indexOf(":");
		const field = colon < 0 ? line : line.slice(0, colon);
		const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
		if (field === "event") name = value;
		else if (field === "data") data.push(value);
	}
	if (data.length === 0) return null;
	const text = data.join("\n");
	try {
		return { name, data: JSON.parse(text) };
	} catch {
		return { name, data: text };
	}
}
