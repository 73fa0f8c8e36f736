import crypto from "crypto";
import { decryptFile, encryptFile, parseKey, sha256Hex } from "../../lib/infra/file-crypto";

const key = crypto.randomBytes(32);
const plain = Buffer.from("%PDF-1.4 secret licence content %%EOF");

describe("file crypto", () => {
	test("round-trips, and the ciphertext contains no plaintext", () => {
		const blob = encryptFile(plain, key, "doc-1");
		expect(blob.includes(plain)).toBe(false);
		expect(blob.includes(Buffer.from("secret licence"))).toBe(false);
		expect(decryptFile(blob, key, "doc-1").equals(plain)).toBe(true);
	});

	test("two encryptions of the same file differ (random IV)", () => {
		expect(encryptFile(plain, key, "d").equals(encryptFile(plain, key, "d"))).toBe(false);
	});

	test("fails with another key, another document id, or a flipped byte", () => {
		const blob = encryptFile(plain, key, "doc-1");
		expect(() => decryptFile(blob, crypto.randomBytes(32), "doc-1")).toThrow();
		expect(() => decryptFile(blob, key, "doc-2")).toThrow();
		const tampered = Buffer.from(blob);
		tampered[tampered.length - 1] ^= 1;
		expect(() => decryptFile(tampered, key, "doc-1")).toThrow();
		expect(() => decryptFile(Buffer.from("short"), key, "doc-1")).toThrow(/Not an encrypted document/);
	});

	test("parses a 64-hex key and refuses anything else", () => {
		const hex = key.toString("hex");
		expect(parseKey(hex).equals(key)).toBe(true);
		expect(() => parseKey(hex.slice(2))).toThrow(/64 hex/);
		expect(() => parseKey("z".repeat(64))).toThrow(/64 hex/);
	});

	test("sha256 is the hex digest", () => {
		expect(sha256Hex(Buffer.from("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	});
});
