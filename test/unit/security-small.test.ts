/**
 * Issue 14, finding 4, the pure pieces: error bodies without internal names, malformed multipart
 * recognised as the client's fault, a file's declared name/type against its bytes, placeholder
 * secrets.
 */
import { Errors } from "moleculer";
import {
	errorBody,
	errorStatus,
	isMalformedMultipart,
	multipartBoundary,
	publicData,
} from "../../lib/infra/http-errors";
import { checkUploadContent, declaredTypeMismatch } from "../../lib/domain/documents";
import { isPlaceholderSecret } from "../../lib/infra/config-check";

describe("error bodies", () => {
	it("a validation error's fields keep type, field and message, without the node id or the action", () => {
		const err = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{
				type: "objectStrict",
				field: "",
				message: "forbidden",
				actual: "query",
				nodeID: "gw-1",
				action: "products.list",
			},
		]);
		const body = errorBody(err);
		expect(body).toMatchObject({ type: "VALIDATION_ERROR", code: 422, message: "Alguns campos não são válidos" });
		expect(body.data).toEqual({
			fields: [{ type: "objectStrict", field: "", message: "O objeto '' tem campos não permitidos: 'query'." }],
		});
		expect(errorBody(err, "en").data).toEqual({
			fields: [{ type: "objectStrict", field: "", message: "The object '' contains forbidden keys: 'query'." }],
		});
		expect(JSON.stringify(body)).not.toMatch(/gw-1|products\.list|nodeID/);
	});

	it("no live instance: 503 without the action's name; an unknown action: 404 without it", () => {
		const gone = new Errors.ServiceNotAvailableError({ action: "orders.create", nodeID: "n1" });
		expect(errorStatus(gone)).toBe(503);
		expect(JSON.stringify(errorBody(gone))).not.toMatch(/orders\.create|n1/);
		const unknown = new Errors.ServiceNotFoundError({ action: "users.authState" });
		expect(JSON.stringify(errorBody(unknown))).not.toMatch(/authState/);
	});

	it("data that names no internals is kept as it was", () => {
		expect(publicData({ field: "email" })).toEqual({ field: "email" });
		expect(publicData({ action: "x" })).toBeUndefined();
		expect(publicData(undefined)).toBeUndefined();
	});
});

describe("malformed multipart", () => {
	it("busboy's parse errors are a 400 MALFORMED_MULTIPART; other plain errors stay 500", () => {
		for (const message of [
			"Multipart: Boundary not found",
			"Unexpected end of multipart data",
			"Part terminated early due to unexpected end of multipart data",
		]) {
			const err = new Error(message);
			expect(isMalformedMultipart(err)).toBe(true);
			expect(errorStatus(err)).toBe(400);
			expect(errorBody(err).type).toBe("MALFORMED_MULTIPART");
		}
		const internal = new Error("EACCES: permission denied");
		expect(errorStatus(internal)).toBe(500);
		expect(errorBody(internal).type).toBe("INTERNAL_ERROR");
	});

	it("the boundary of a Content-Type header", () => {
		expect(multipartBoundary("multipart/form-data")).toBeNull();
		expect(multipartBoundary("multipart/form-data; boundary=")).toBeNull();
		expect(multipartBoundary("multipart/form-data; boundary=XyZ")).toBe("XyZ");
		expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b"')).toBe("a b");
		expect(multipartBoundary("application/json; boundary=x")).toBeNull();
	});
});

describe("declared file type against content", () => {
	const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
	const pdf = Buffer.from("%PDF-1.4\n%%EOF\n");
	const request = { status: "awaiting_documents" as const, required: ["anp_authorization" as const] };

	it("PNG bytes named .pdf, or declared application/pdf, are a mismatch", () => {
		expect(declaredTypeMismatch("image/png", { filename: "scan.pdf", mimetype: "application/octet-stream" })).toBe(
			true,
		);
		expect(declaredTypeMismatch("image/png", { filename: "scan", mimetype: "application/pdf" })).toBe(true);
		expect(checkUploadContent(request, "anp_authorization", png, { filename: "anp.pdf" })).toEqual({
			problem: "mismatch",
		});
	});

	it("a name and type that agree with the bytes, or say nothing, pass", () => {
		expect(declaredTypeMismatch("image/png", { filename: "scan.PNG", mimetype: "image/png" })).toBe(false);
		expect(declaredTypeMismatch("image/jpeg", { filename: "a.jpeg", mimetype: "image/jpg" })).toBe(false);
		expect(declaredTypeMismatch("application/pdf", { filename: "doc", mimetype: "application/octet-stream" })).toBe(
			false,
		);
		expect(declaredTypeMismatch("application/pdf", {})).toBe(false);
		expect(checkUploadContent(request, "anp_authorization", pdf, { filename: "../x/doc.pdf" })).toEqual({
			contentType: "application/pdf",
		});
	});

	it("a name or type outside PDF/JPEG/PNG is a mismatch whatever the bytes", () => {
		expect(declaredTypeMismatch("application/pdf", { filename: "doc.exe" })).toBe(true);
		expect(declaredTypeMismatch("application/pdf", { filename: "doc.pdf", mimetype: "text/html" })).toBe(true);
	});
});

describe("placeholder secrets", () => {
	it("REPLACE-ME…, dev-only-…, changeme, the example documents key and one repeated character", () => {
		for (const v of [
			"REPLACE-ME-jwt-secret",
			"dev-only-jwt-secret-change-me",
			"changeme-please-123",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"x".repeat(32),
		])
			expect(isPlaceholderSecret(v)).toBe(true);
		expect(isPlaceholderSecret("k9Zq3vR8-real-secret-7Lm2")).toBe(false);
		expect(isPlaceholderSecret("ab".repeat(32))).toBe(false);
	});
});
