/**
 * Rate-limit stores with moleculer-web's interface (`inc(key)` → the count in the current window,
 * `resetTime` → when the window ends, epoch ms): in Redis, so that every gateway instance counts
 * against one limit per key, or in this process's memory. Fixed windows: the counter key names the
 * window, and expires with it.
 */
import Redis from "ioredis";

export interface RateLimitStore {
	resetTime: number;
	inc(key: string): Promise<number>;
}
export type RateLimitStoreFactory = (new (windowMs: number) => RateLimitStore) & { close?(): Promise<void> };

/** `namespace` keeps clusters (and test runs) sharing one Redis from sharing counters. */
export function redisRateLimitStoreFactory(url: string, namespace: string): RateLimitStoreFactory {
	const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
	return class RedisRateLimitStore implements RateLimitStore {
		/** Closes the factory's Redis connection (the gateway's stopped()). */
		static async close(): Promise<void> {
			await client.quit().catch(() => undefined);
		}
		windowMs: number;
		resetTime: number;
		constructor(windowMs: number) {
			this.windowMs = windowMs;
			this.resetTime = this.windowEnd();
		}
		windowEnd(): number {
			return (Math.floor(Date.now() / this.windowMs) + 1) * this.windowMs;
		}
		async inc(key: string): Promise<number> {
			const windowIndex = Math.floor(Date.now() / this.windowMs);
			this.resetTime = (windowIndex + 1) * this.windowMs;
			const redisKey = `gr:ratelimit:${namespace || "default"}:${windowIndex}:${key}`;
			const replies = await client.multi().incr(redisKey).pexpire(redisKey, this.windowMs).exec();
			return Number(replies?.[0]?.[1]);
		}
	};
}

/** The same fixed windows in this process's memory (one gateway). */
export class MemoryRateLimitStore implements RateLimitStore {
	resetTime: number;
	private window: number;
	private readonly hits = new Map<string, number>();
	constructor(private readonly windowMs: number) {
		this.window = Math.floor(Date.now() / windowMs);
		this.resetTime = (this.window + 1) * windowMs;
	}
	async inc(key: string): Promise<number> {
		const window = Math.floor(Date.now() / this.windowMs);
		if (window !== this.window) {
			this.window = window;
			this.resetTime = (window + 1) * this.windowMs;
			this.hits.clear();
		}
		const count = (this.hits.get(key) ?? 0) + 1;
		this.hits.set(key, count);
		return count;
	}
}

/** What a response must say about a rate limit: the standard RateLimit-* fields (reset in seconds). */
export function setRateLimitHeaders(
	res: { setHeader(name: string, value: string): unknown },
	limit: number,
	remaining: number,
	resetTime: number,
): void {
	res.setHeader("RateLimit-Limit", String(limit));
	res.setHeader("RateLimit-Remaining", String(Math.max(0, remaining)));
	res.setHeader("RateLimit-Reset", String(Math.max(0, Math.ceil((resetTime - Date.now()) / 1000))));
}

/** The standard fields from moleculer-web's X-Rate-Limit-* (its reset is an epoch in ms), when it set them. */
export function copyRateLimitHeaders(res: {
	getHeader(name: string): unknown;
	setHeader(name: string, value: string): unknown;
}): void {
	const limit = Number(res.getHeader("X-Rate-Limit-Limit"));
	const remaining = Number(res.getHeader("X-Rate-Limit-Remaining"));
	const reset = Number(res.getHeader("X-Rate-Limit-Reset"));
	if (
		Number.isFinite(limit) &&
		Number.isFinite(remaining) &&
		Number.isFinite(reset) &&
		!res.getHeader("RateLimit-Limit")
	)
		setRateLimitHeaders(res, limit, remaining, reset);
}
