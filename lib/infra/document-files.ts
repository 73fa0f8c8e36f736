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
import { privateDir } from "./private-files";
import type { RestSchema } from "moleculer";
import {
	CONTENT_TYPES,
	DOCUMENT_TYPES,
	DocumentMetadata,
	DocumentType,
	extensionFor,
	MAX_DOCUMENT_BYTES,
	MetadataProblem,
	metadataProblems,
	normalizeMetadata,
	UploadProblem,
} from "../domain/documents";

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

/** The multipart fields before the file (validated with the broker's validator). */
export const UPLOAD_FIELDS = {
	type: { type: "enum", values: DOCUMENT_TYPES },
	metadata: { type: "string", max: 8000, optional: true },
};

/**
 * moleculer-web's multipart route; the busboy limit is one byte over the maximum, so a stream
 * busboy cut short is still seen as too large by readUpload. (moleculer's RestSchema does not
 * know `type` and `busboyConfig`: a wider object, typed once here.)
 */
export const UPLOAD_ROUTE = {
	method: "POST",
	path: "/verification/documents",
	type: "multipart",
	busboyConfig: {
		limits: { files: 1, fileSize: MAX_DOCUMENT_BYTES + 1, fields: 5, fieldSize: 16 * 1024, parts: 8 },
	},
} as RestSchema;

/** The upload's `type` and `metadata` fields, checked (`check`: UPLOAD_FIELDS compiled) and normalized, or a 422. */
export function parseUploadFields(
	fields: unknown,
	check: (value: unknown) => true | MetadataProblem[],
	now: Date,
): { type: DocumentType; metadata: DocumentMetadata } {
	const values = { ...(fields && typeof fields === "object" ? fields : {}) } as Record<string, unknown>;
	const checked = check(values);
	if (checked !== true) throw new ValidationError("Parameters validation error!", "VALIDATION_ERROR", checked);
	let metadata: unknown;
	try {
		metadata = JSON.parse((values.metadata as string) || "{}");
	} catch {
		throw fieldErrors([{ field: "metadata", message: "metadata must be a JSON object" }]);
	}
	const type = values.type as DocumentType;
	const problems = metadataProblems(type, metadata, now);
	if (problems.length) throw fieldErrors(problems);
	return { type, metadata: normalizeMetadata(type, metadata as DocumentMetadata) };
}

/** Headers of a document download: an attachment with a name we make, never sniffed, never cached. */
export function downloadHeaders(doc: { _id: string; type: string; contentType: (typeof CONTENT_TYPES)[number] }) {
	return {
		"Content-Disposition": `attachment; filename="${doc.type}-${doc._id}.${extensionFor(doc.contentType)}"`,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control": "no-store",
	};
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
		privateDir(dir);
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
