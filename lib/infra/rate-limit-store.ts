/**
 * A moleculer-web rate-limit store in Redis, so that every gateway instance counts against one
 * limit per key. Fixed windows: the counter key names the window, and expires with it.
 */
import Redis from "ioredis";

/** `namespace` keeps clusters (and test runs) sharing one Redis from sharing counters. */
export function redisRateLimitStoreFactory(url: string, namespace: string) {
	const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
	return class RedisRateLimitStore {
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
