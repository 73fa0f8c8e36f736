/** Password hashing with scrypt and a per-password salt; comparison in constant time; strength. */
import crypto from "crypto";
import { promisify } from "util";
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as zxcvbnCommon from "@zxcvbn-ts/language-common";

const scrypt = promisify(crypto.scrypt) as (
	pw: string,
	salt: Buffer,
	keylen: number,
	opts: crypto.ScryptOptions,
) => Promise<Buffer>;
const KEY_LENGTH = 64;
const COST = { N: 16384, r: 8, p: 1 };

export async function hashPassword(password: string): Promise<string> {
	const salt = crypto.randomBytes(16);
	const hash = await scrypt(password, salt, KEY_LENGTH, COST);
	return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
	const [scheme, n, r, p, saltB64, hashB64] = stored.split("$");
	if (scheme !== "scrypt" || !saltB64 || !hashB64) return false;
	const expected = Buffer.from(hashB64, "base64");
	const actual = await scrypt(password, Buffer.from(saltB64, "base64"), expected.length, {
		N: Number(n),
		r: Number(r),
		p: Number(p),
	});
	return crypto.timingSafeEqual(expected, actual);
}

/** A hash to compare against when the user does not exist, so login timing does not reveal e-mails. */
export const DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + Buffer.alloc(KEY_LENGTH).toString("base64");

/**
 * Password strength with zxcvbn-ts (common-password, name and keyboard-pattern dictionaries):
 * a score of at least MIN_PASSWORD_SCORE of 4 ("safely unguessable" for an online attack that is
 * throttled). Dictionaries are loaded on first use.
 */
export const MIN_PASSWORD_SCORE = 3;

let strength: ZxcvbnFactory | null = null;

function estimator(): ZxcvbnFactory {
	if (!strength) {
		strength = new ZxcvbnFactory({
			dictionary: { ...zxcvbnCommon.dictionary },
			graphs: zxcvbnCommon.adjacencyGraphs,
		});
	}
	return strength;
}

/** Why this password is too weak (the e-mail and name count against it), or null when it will do. */
export function weakPasswordProblem(password: string, userInputs: string[] = []): string | null {
	const inputs = userInputs.flatMap((v) => [v, ...v.split(/[@.\s_-]+/)]).filter((v) => v.length >= 3);
	const result = estimator().check(password, inputs);
	if (result.score >= MIN_PASSWORD_SCORE) return null;
	return "The password is too easy to guess: use a longer one, e.g. a few unrelated words with a number";
}
