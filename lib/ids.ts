import crypto from "crypto";

/** A random id for entities and events: 128 bits, URL-safe. */
export function newId(): string {
	return crypto.randomBytes(16).toString("base64url");
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
