/**
 * Sensitive fields at rest (TOTP secrets, verification metadata, card tokens waiting to be charged):
 * AES-256-GCM with a random 96-bit IV per value and `<collection>.<field>` as additional
 * authenticated data, so a sealed value cannot be moved to another field. The key is derived
 * (HKDF-SHA256) from DOCUMENTS_KEY, the at-rest key every node of a platform already shares.
 * Stored form: "enc:v1:" + base64(iv | tag | ciphertext of the value's JSON).
 */
import crypto from "crypto";
import { parseKey } from "./file-crypto";
import { secret } from "./secrets";

const PREFIX = "enc:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The fields key from the 32-byte at-rest key (a different key from the documents' own). */
export function deriveFieldsKey(atRestKey: Buffer): Buffer {
	return Buffer.from(crypto.hkdfSync("sha256", atRestKey, Buffer.alloc(0), "gasrapido sealed fields v1", 32));
}

export function isSealed(value: unknown): value is string {
	return typeof value === "string" && value.startsWith(PREFIX);
}

export function sealValue(value: unknown, key: Buffer, label: string): string {
	const iv = crypto.randomBytes(IV_BYTES);
	const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
	cipher.setAAD(Buffer.from(label, "utf8"));
	const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
	return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64");
}

/** The value a sealed string holds; anything else is a value stored before sealing, returned as it is. */
export function openValue(stored: unknown, key: Buffer, label: string): unknown {
	if (!isSealed(stored)) return stored;
	const blob = Buffer.from(stored.slice(PREFIX.length), "base64");
	if (blob.length < IV_BYTES + TAG_BYTES) throw new Error(`${label}: sealed value is truncated`);
	const decipher = crypto.createDecipheriv("aes-256-gcm", key, blob.subarray(0, IV_BYTES));
	decipher.setAAD(Buffer.from(label, "utf8"));
	decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
	const plain = Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
	return JSON.parse(plain.toString("utf8"));
}

let cachedKey: { from: string; key: Buffer } | null = null;

/** The fields key of this process (from DOCUMENTS_KEY, generated in development like the other secrets). */
export function fieldsKey(log: (msg: string) => void = () => undefined): Buffer {
	const atRest = secret("DOCUMENTS_KEY", log);
	if (!cachedKey || cachedKey.from !== atRest) cachedKey = { from: atRest, key: deriveFieldsKey(parseKey(atRest)) };
	return cachedKey.key;
}
