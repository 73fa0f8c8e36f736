/**
 * Documents at rest: AES-256-GCM with a random 96-bit IV per file and the document id as
 * additional authenticated data, so a file cannot be swapped for another document's file.
 * Layout: "GRD1" | iv (12) | auth tag (16) | ciphertext.
 */
import crypto from "crypto";

const MAGIC = Buffer.from("GRD1");
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + IV_BYTES + TAG_BYTES;

/** The 32-byte key from 64 hex characters; anything else is a configuration error. */
export function parseKey(hex: string): Buffer {
	if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("DOCUMENTS_KEY must be 64 hex characters (32 bytes)");
	return Buffer.from(hex, "hex");
}

export function sha256Hex(data: Buffer): string {
	return crypto.createHash("sha256").update(data).digest("hex");
}

export function encryptFile(plain: Buffer, key: Buffer, associatedData: string): Buffer {
	const iv = crypto.randomBytes(IV_BYTES);
	const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
	cipher.setAAD(Buffer.from(associatedData, "utf8"));
	const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
	return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), ciphertext]);
}

/** Throws when the blob was altered, the key is wrong or the associated data differs. */
export function decryptFile(blob: Buffer, key: Buffer, associatedData: string): Buffer {
	if (blob.length < HEADER_BYTES || !blob.subarray(0, MAGIC.length).equals(MAGIC))
		throw new Error("Not an encrypted document");
	const iv = blob.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
	const tag = blob.subarray(MAGIC.length + IV_BYTES, HEADER_BYTES);
	const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv);
	decipher.setAAD(Buffer.from(associatedData, "utf8"));
	decipher.setAuthTag(tag);
	return Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES)), decipher.final()]);
}
