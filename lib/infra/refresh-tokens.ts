/**
 * Refresh tokens: opaque `<id>.<secret>` strings. Only a hash of the secret is stored (users'
 * record kind `refreshTokens`), with the token's family (one per sign-in): each refresh uses its
 * token up and hands out the next of the family; a used or revoked token shown again means it was
 * stolen or replayed, and the whole family is revoked.
 */
import { createHash, randomBytes, timingSafeEqual } from "crypto";
import { newId } from "./ids";

export interface NewRefreshToken {
	id: string;
	token: string;
	secretHash: string;
}

const hash = (secret: string) => createHash("sha256").update(secret).digest("hex");

export function newRefreshToken(): NewRefreshToken {
	const id = newId();
	const secret = randomBytes(32).toString("base64url");
	return { id, token: `${id}.${secret}`, secretHash: hash(secret) };
}

/** The token's id and whether its secret matches the stored hash (null when malformed). */
export function parseRefreshToken(token: string): { id: string; matches(secretHash: string): boolean } | null {
	const dot = token.indexOf(".");
	if (dot <= 0 || dot === token.length - 1) return null;
	const id = token.slice(0, dot);
	const secret = token.slice(dot + 1);
	return {
		id,
		matches(secretHash: string) {
			const a = Buffer.from(hash(secret), "hex");
			const b = Buffer.from(secretHash, "hex");
			return a.length === b.length && timingSafeEqual(a, b);
		},
	};
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86400_000, w: 604800_000 };

/** "30d", "12h", "15m", "90s", "500ms" or seconds as a number → milliseconds. */
export function durationMs(text: string): number {
	const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/i.exec(text.trim());
	if (!match) throw new Error(`not a duration: ${text}`);
	return Math.round(Number(match[1]) * UNIT_MS[(match[2] || "s").toLowerCase()]);
}
