import crypto from "crypto";

// Ids are made on every write and event: draw random bytes in blocks rather than a system call each.
let pool = Buffer.alloc(0);
let poolOffset = 0;
function pooledRandomBytes(n: number): Buffer {
	if (poolOffset + n > pool.length) {
		pool = crypto.randomBytes(4096);
		poolOffset = 0;
	}
	const out = pool.subarray(poolOffset, poolOffset + n);
	poolOffset += n;
	return out;
}

/** A random id for entities and events: 128 bits, URL-safe. */
export function newId(): string {
	return pooledRandomBytes(16).toString("base64url");
}

/** An unguessable code (e.g. an invite): `bytes` random bytes, URL-safe. */
export function secureCode(bytes = 24): string {
	return crypto.randomBytes(bytes).toString("base64url");
}

/** A short numeric code a person can read aloud (the delivery handover code). */
export function numericCode(digits = 4): string {
	return String(crypto.randomInt(0, 10 ** digits)).padStart(digits, "0");
}

export function nowIso(): string {
	return new Date().toISOString();
}

/** 32 random bytes = 256 bits, URL-safe (43 characters). */
export function newInviteCode(): string {
	return secureCode(32);
}
