/**
 * Verification documents on disk: uploads read into memory with a size limit, files encrypted at
 * rest (file-crypto) under the documents folder, named only by ids we generated.
 */
import fs from "fs";
import os from "os";
import path from "path";
import { Readable } from "stream";
import { Errors } from "moleculer";
import { decryptFile, encryptFile, sha256Hex } from "./file-crypto";
import { appError, clientError, conflict, unprocessable } from "./errors";
import { malformedMultipart } from "./http-errors";
import { CONTENT_TYPES, DocumentType, MetadataProblem, UploadProblem } from "../domain/documents";

const { ValidationError } = Errors;
const SAFE_ID = /^[A-Za-z0-9_-]{10,64}$/;

export const tooLarge = (max: number) =>
	appError("FILE_TOO_LARGE", `The file is larger than ${max} bytes`, { maxBytes: max });

/** The whole upload in memory (at most `max` bytes), or a 413 as soon as it grows past that. */
export function readUpload(stream: Readable, max: number): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		stream.on("data", (chunk: Buffer) => {
			size += chunk.length;
			if (size > max) {
				stream.destroy();
				reject(tooLarge(max));
			} else chunks.push(chunk);
		});
		stream.on("end", () => resolve(Buffer.concat(chunks)));
		// moleculer-web destroys the stream with a PayloadTooLarge (413) at busboy's fileSize limit;
		// any other error of a part's stream is busboy's: the body was malformed or cut off (400).
		stream.on("error", (err: Error & { code?: unknown }) =>
			reject(err && err.code === 413 ? tooLarge(max) : malformedMultipart()),
		);
	});
}

export function fieldErrors(problems: MetadataProblem[], message = "Invalid document metadata") {
	return new ValidationError(message, "VALIDATION_ERROR", problems);
}

/** The rules of checkUploadContent as errors. */
export function uploadError(
	problem: UploadProblem,
	request: { status: string; role: string },
	type: DocumentType,
): Error {
	if (problem === "complete") return conflict("Your verification is complete", { status: request.status });
	if (problem === "not_required")
		return fieldErrors([{ field: "type", message: `a ${request.role} does not upload ${type}` }]);
	if (problem === "empty") return unprocessable("The file is empty", { field: "file" });
	if (problem === "mismatch")
		return clientError("FILE_TYPE_MISMATCH", "The file's name or declared type does not match its content", {
			accepted: CONTENT_TYPES,
		});
	return clientError("UNSUPPORTED_FILE_TYPE", "The file is not a PDF, JPEG or PNG", { accepted: CONTENT_TYPES });
}

/** Where documents live: DOCUMENTS_DIR, a throwaway folder for in-memory stores (tests), else DATA_DIR/documents. */
export function documentsFolder(cfg: { documentsDir?: string | null; inMemoryStore: boolean; dataDir: string }): {
	dir: string;
	temporary: boolean;
} {
	if (cfg.documentsDir) return { dir: path.resolve(cfg.documentsDir), temporary: false };
	if (cfg.inMemoryStore)
		return { dir: fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-documents-")), temporary: true };
	return { dir: path.resolve(cfg.dataDir, "documents"), temporary: false };
}

/** Encrypted document files in one folder; the document id is the file name and the associated data. */
export class DocumentFiles {
	constructor(
		readonly dir: string,
		private readonly key: Buffer,
	) {
		fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
	}

	/** Only ids we generated become file names. */
	pathOf(id: string): string {
		if (!SAFE_ID.test(id)) throw new Error(`Unsafe document id '${id}'`);
		return path.join(this.dir, `${id}.enc`);
	}

	/** Written under a temporary name and renamed, so a file is whole or absent. */
	async write(id: string, content: Buffer): Promise<void> {
		const file = this.pathOf(id);
		const temp = `${file}.part`;
		try {
			await fs.promises.writeFile(temp, encryptFile(content, this.key, id), { mode: 0o600, flag: "wx" });
			await fs.promises.rename(temp, file);
		} catch (err) {
			await fs.promises.rm(temp, { force: true });
			throw err;
		}
	}

	remove(id: string): Promise<void> {
		return fs.promises.rm(this.pathOf(id), { force: true });
	}

	/** The decrypted content, checked against the checksum recorded at upload. */
	async read(id: string, sha256: string): Promise<Buffer> {
		let blob: Buffer;
		try {
			blob = await fs.promises.readFile(this.pathOf(id));
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code === "ENOENT") throw appError("DOCUMENT_FILE_MISSING");
			throw err;
		}
		const content = decryptFile(blob, this.key, id);
		if (sha256Hex(content) !== sha256) throw appError("DOCUMENT_CORRUPT");
		return content;
	}

	removeFolder(): void {
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}
