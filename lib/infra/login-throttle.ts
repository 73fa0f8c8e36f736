/**
 * Failed sign-ins per account (rules: lib/domain/login-throttle.ts), kept in memory, or in Redis
 * when RATE_LIMIT_REDIS is set so that every instance counts against one budget per account. The
 * account key is a hash of the normalized e-mail: no addresses in Redis, and unknown e-mails are
 * counted like real ones (a lockout tells nobody whether an account exists).
 */
import { createHash } from "crypto";
import Redis from "ioredis";
import {
	blockAfterFailure,
	DEFAULT_THROTTLE_POLICY,
	NO_FAILURES,
	ThrottlePolicy,
	ThrottleState,
} from "../domain/login-throttle";

export interface AttemptStore {
	state(key: string): Promise<ThrottleState>;
	/** Counts a failure and blocks the account as the policy says; the state after it. */
	fail(key: string): Promise<ThrottleState>;
	reset(key: string): Promise<void>;
	close(): Promise<void>;
}

export function accountKey(normalizedEmail: string): string {
	return createHash("sha256").update(normalizedEmail).digest("hex").slice(0, 32);
}

export class MemoryAttemptStore implements AttemptStore {
	private readonly entries = new Map<string, ThrottleState & { expires: number }>();
	constructor(private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY) {}

	async state(key: string): Promise<ThrottleState> {
		const entry = this.entries.get(key);
		if (!entry) return NO_FAILURES;
		if (entry.expires <= Date.now()) {
			this.entries.delete(key);
			return NO_FAILURES;
		}
		return { failures: entry.failures, blockedUntil: entry.blockedUntil };
	}

	async fail(key: string): Promise<ThrottleState> {
		const now = Date.now();
		const failures = (await this.state(key)).failures + 1;
		const previous = this.entries.get(key)?.blockedUntil ?? 0;
		const blockedUntil = Math.max(previous, now + blockAfterFailure(failures, this.policy));
		// Bounded: a flood of distinct e-mails must not grow memory without end.
		if (this.entries.size >= 100_000) this.entries.clear();
		this.entries.set(key, { failures, blockedUntil, expires: Math.max(blockedUntil, now + this.policy.forgetAfterMs) });
		return { failures, blockedUntil };
	}

	async reset(key: string): Promise<void> {
		this.entries.delete(key);
	}

	async close(): Promise<void> {
		this.entries.clear();
	}
}

/** failures += 1 (one hash per account), expiring with the policy; returns the new count. */
const INCREMENT = `
local f = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return f`;
/** blockedUntil = max(blockedUntil, ARGV[1]); keeps the key at least until then. */
const BLOCK = `
local current = tonumber(redis.call('HGET', KEYS[1], 'blockedUntil') or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('HSET', KEYS[1], 'blockedUntil', ARGV[1])
  current = wanted
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return tostring(current)`;

export class RedisAttemptStore implements AttemptStore {
	private readonly client: Redis;
	constructor(
		url: string,
		private readonly namespace: string,
		private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY,
	) {
		this.client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
	}

	private redisKey(key: string): string {
		return `gr:login-throttle:${this.namespace || "default"}:${key}`;
	}

	async state(key: string): Promise<ThrottleState> {
		const hash = await this.client.hgetall(this.redisKey(key));
		return { failures: Number(hash.failures ?? 0), blockedUntil: Number(hash.blockedUntil ?? 0) };
	}

	async fail(key: string): Promise<ThrottleState> {
		const k = this.redisKey(key);
		const failures = Number(await this.client.eval(INCREMENT, 1, k, String(this.policy.forgetAfterMs)));
		const block = blockAfterFailure(failures, this.policy);
		const wanted = Date.now() + block;
		const keepMs = Math.max(this.policy.forgetAfterMs, block);
		const blockedUntil = Number(await this.client.eval(BLOCK, 1, k, String(wanted), String(keepMs)));
		return { failures, blockedUntil };
	}

	async reset(key: string): Promise<void> {
		await this.client.del(this.redisKey(key));
	}

	async close(): Promise<void> {
		await this.client.quit().catch(() => undefined);
	}
}

/** The store for this configuration: Redis when RATE_LIMIT_REDIS is set, else this process's memory. */
export function attemptStore(cfg: { rateLimitRedis: string; namespace: string }): AttemptStore {
	return cfg.rateLimitRedis ? new RedisAttemptStore(cfg.rateLimitRedis, cfg.namespace) : new MemoryAttemptStore();
}
