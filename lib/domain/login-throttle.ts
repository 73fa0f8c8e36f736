/**
 * How failed sign-ins slow down and then lock an account (per target account, whoever asks and
 * whatever token the request carries). Failures are counted per account until a success, or until
 * a day passes without one:
 *
 * - the first `freeFailures` cost nothing;
 * - then each failure blocks the account for a growing delay (1 s, 2 s, 4 s … at most `maxDelayMs`);
 * - every `lockoutEvery`-th failure locks it: 15 min the first time, doubling each time (at most a day),
 *   and the owner is told.
 *
 * While blocked, a sign-in is refused before the password is looked at (429 with Retry-After).
 */

export interface ThrottlePolicy {
	freeFailures: number;
	lockoutEvery: number;
	lockoutMs: number;
	maxLockoutMs: number;
	baseDelayMs: number;
	maxDelayMs: number;
	/** Failures are forgotten this long after the last one. */
	forgetAfterMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
	freeFailures: 2,
	lockoutEvery: 5,
	lockoutMs: 15 * 60_000,
	maxLockoutMs: 24 * 3600_000,
	baseDelayMs: 1_000,
	maxDelayMs: 60_000,
	forgetAfterMs: 24 * 3600_000,
};

/** What is known about an account's recent failures. */
export interface ThrottleState {
	failures: number;
	/** Epoch ms until which sign-ins are refused (0 = not blocked). */
	blockedUntil: number;
}

export const NO_FAILURES: ThrottleState = { failures: 0, blockedUntil: 0 };

/** True when this failure count is a lockout (the owner is told). */
export function isLockout(failures: number, policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY): boolean {
	return failures > 0 && failures % policy.lockoutEvery === 0;
}

/** How long the account is blocked after its `failures`-th failure in a row. */
export function blockAfterFailure(failures: number, policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY): number {
	if (failures <= policy.freeFailures) return 0;
	if (isLockout(failures, policy)) {
		const level = failures / policy.lockoutEvery - 1;
		return Math.min(policy.lockoutMs * 2 ** level, policy.maxLockoutMs);
	}
	return Math.min(policy.baseDelayMs * 2 ** (failures - policy.freeFailures - 1), policy.maxDelayMs);
}

/** Whole seconds until the block ends (at least 1), or 0 when the account is not blocked at `now`. */
export function retryAfterSeconds(state: ThrottleState, now: number): number {
	return state.blockedUntil > now ? Math.max(1, Math.ceil((state.blockedUntil - now) / 1000)) : 0;
}
