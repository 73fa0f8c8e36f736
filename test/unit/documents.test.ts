import {
	displayName,
	documentUploadedEvent,
	newDocumentRecord,
	rejectedEvent,
	requestTransitionEvents,
	licenceCoversVehicle,
	metadataProblems,
	normalizeMetadata,
	progress,
	requiredDocuments,
	sniffContentType,
	StoredDocument,
	verifiedFacts,
} from "../../lib/domain/documents";

const now = new Date("2025-03-01T12:00:00.000Z");
const fields = (problems: { field: string }[]) => problems.map((p) => p.field);

describe("required documents", () => {
	test("per role", () => {
		expect(requiredDocuments("supplier")).toEqual(["anp_authorization", "company_registration", "fire_safety_permit"]);
		expect(requiredDocuments("courier")).toEqual(["drivers_licence", "vehicle_document", "courier_training"]);
		expect(requiredDocuments("customer")).toEqual([]);
	});
});

describe("metadata rules", () => {
	test("ANP authorization needs its number", () => {
		expect(metadataProblems("anp_authorization", { number: "ANP-123456" }, now)).toEqual([]);
		expect(fields(metadataProblems("anp_authorization", {}, now))).toEqual(["metadata.number"]);
		expect(fields(metadataProblems("anp_authorization", { number: "../../etc" }, now))).toEqual(["metadata.number"]);
	});

	test("company registration validates the CNPJ check digits", () => {
		expect(metadataProblems("company_registration", { cnpj: "11.222.333/0001-81" }, now)).toEqual([]);
		expect(metadataProblems("company_registration", { cnpj: "11.222.333/0001-82" }, now)).toEqual([
			{ field: "metadata.cnpj", message: "not a valid CNPJ (check digits)" },
		]);
		expect(normalizeMetadata("company_registration", { cnpj: "11.222.333/0001-81" })).toEqual({
			cnpj: "11222333000181",
		});
	});

	test("fire-safety permit must not have expired; dates must be real", () => {
		expect(metadataProblems("fire_safety_permit", { number: "AVCB 2024/77", validUntil: "2026-01-01" }, now)).toEqual(
			[],
		);
		expect(fields(metadataProblems("fire_safety_permit", { number: "AVCB 1", validUntil: "2025-02-28" }, now))).toEqual(
			["metadata.validUntil"],
		);
		expect(fields(metadataProblems("fire_safety_permit", { number: "AVCB 1", validUntil: "2026-02-30" }, now))).toEqual(
			["metadata.validUntil"],
		);
	});

	test("driver's licence needs a category and a past issue date", () => {
		expect(metadataProblems("drivers_licence", { category: "AB", issueDate: "2019-05-10" }, now)).toEqual([]);
		expect(fields(metadataProblems("drivers_licence", { category: "Z", issueDate: "2019-05-10" }, now))).toEqual([
			"metadata.category",
		]);
		expect(fields(metadataProblems("drivers_licence", { category: "A", issueDate: "2025-03-02" }, now))).toEqual([
			"metadata.issueDate",
		]);
		expect(fields(metadataProblems("drivers_licence", { category: "A" }, now))).toEqual(["metadata.issueDate"]);
	});

	test("a motorcycle needs a sidecar; a car does not", () => {
		expect(
			metadataProblems("vehicle_document", { vehicleType: "motorcycle", plate: "ABC1D23", hasSidecar: true }, now),
		).toEqual([]);
		expect(metadataProblems("vehicle_document", { vehicleType: "motorcycle", plate: "ABC1D23" }, now)).toEqual([
			{ field: "metadata.hasSidecar", message: "a motorcycle needs a sidecar to carry gas cylinders" },
		]);
		expect(metadataProblems("vehicle_document", { vehicleType: "car", plate: "abc-1234" }, now)).toEqual([]);
		expect(fields(metadataProblems("vehicle_document", { vehicleType: "car", plate: "12345" }, now))).toEqual([
			"metadata.plate",
		]);
		expect(normalizeMetadata("vehicle_document", { vehicleType: "car", plate: "abc-1234" }).plate).toBe("ABC1234");
	});

	test("training certificate kind and unknown fields", () => {
		expect(metadataProblems("courier_training", { kind: "dangerous_goods", issueDate: "2024-01-01" }, now)).toEqual([]);
		expect(fields(metadataProblems("courier_training", { kind: "cooking", issueDate: "2024-01-01" }, now))).toEqual([
			"metadata.kind",
		]);
		expect(
			metadataProblems("courier_training", { kind: "dangerous_goods", issueDate: "2024-01-01", extra: 1 }, now).length,
		).toBe(1);
		expect(metadataProblems("courier_training", null, now).length).toBeGreaterThan(0);
	});

	test("licence categories cover vehicles", () => {
		expect(licenceCoversVehicle("A", "motorcycle")).toBe(true);
		expect(licenceCoversVehicle("B", "motorcycle")).toBe(false);
		expect(licenceCoversVehicle("AB", "car")).toBe(true);
		expect(licenceCoversVehicle("E", "truck")).toBe(true);
		expect(licenceCoversVehicle("B", "truck")).toBe(false);
	});
});

describe("content sniffing", () => {
	test("recognizes PDF, PNG, JPEG by magic bytes only", () => {
		expect(sniffContentType(Buffer.from("%PDF-1.7\n..."))).toBe("application/pdf");
		expect(sniffContentType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe("image/png");
		expect(sniffContentType(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0]))).toBe("image/jpeg");
		expect(sniffContentType(Buffer.from("MZ\x90\x00 an exe named x.pdf"))).toBeNull();
		expect(sniffContentType(Buffer.from("<html>%PDF-"))).toBeNull();
		expect(sniffContentType(Buffer.from("%PD"))).toBeNull();
		expect(sniffContentType(Buffer.alloc(0))).toBeNull();
	});
});

describe("display names never carry a path", () => {
	test("last segment, no control characters, no leading dots", () => {
		expect(displayName("../../etc/passwd")).toBe("passwd");
		expect(displayName("..\\..\\windows\\win.ini")).toBe("win.ini");
		expect(displayName("licence\u0000.pdf")).toBe("licence.pdf");
		expect(displayName("..")).toBe("document");
		expect(displayName(undefined)).toBe("document");
		expect(displayName("a".repeat(300)).length).toBe(120);
	});
});

describe("progress", () => {
	const doc = (
		id: string,
		type: any,
		status: any,
		uploadedAt: string,
		extra: Partial<StoredDocument> = {},
	): StoredDocument => ({
		_id: id,
		type,
		status,
		uploadedAt,
		metadata: {},
		...extra,
	});
	const required = requiredDocuments("supplier");

	test("awaiting until every required document is in, then in review, then approved", () => {
		expect(progress(required, []).status).toBe("awaiting_documents");
		const two = [
			doc("1", "anp_authorization", "pending_review", "t1"),
			doc("2", "company_registration", "approved", "t1"),
		];
		expect(progress(required, two).status).toBe("awaiting_documents");
		const three = [...two, doc("3", "fire_safety_permit", "pending_review", "t2")];
		expect(progress(required, three).status).toBe("in_review");
		const allApproved = three.map((d) => ({ ...d, status: "approved" as const }));
		expect(progress(required, allApproved).status).toBe("approved");
	});

	test("a rejected document blocks until a newer upload replaces it; superseded ones never count", () => {
		const docs = [
			doc("1", "anp_authorization", "approved", "t1"),
			doc("2", "company_registration", "approved", "t1"),
			doc("3", "fire_safety_permit", "rejected", "t1", { reason: "illegible" }),
		];
		const rejected = progress(required, docs);
		expect(rejected.status).toBe("awaiting_documents");
		expect(rejected.documents[2]).toEqual({
			type: "fire_safety_permit",
			status: "rejected",
			id: "3",
			reason: "illegible",
		});
		const reuploaded = progress(required, [...docs, doc("4", "fire_safety_permit", "pending_review", "t2")]);
		expect(reuploaded.status).toBe("in_review");
		expect(reuploaded.documents[2].id).toBe("4");
		const superseded = progress(required, [docs[0], docs[1], doc("5", "fire_safety_permit", "superseded", "t3")]);
		expect(superseded.documents[2].status).toBe("missing");
	});

	test("verified facts come from approved documents only", () => {
		const docs = [
			doc("1", "anp_authorization", "approved", "t1", { metadata: { number: "ANP-1" } }),
			doc("2", "company_registration", "pending_review", "t1", { metadata: { cnpj: "11222333000181" } }),
		];
		expect(verifiedFacts(docs)).toEqual({ anpAuthorization: "ANP-1" });
	});
});

describe("records and events", () => {
	const request = {
		_id: "req1",
		userId: "u1",
		role: "supplier" as const,
		supplierId: "u1",
		inviteId: null,
		required: [],
		status: "awaiting_documents" as const,
		createdAt: "2025-01-01T00:00:00.000Z",
		updatedAt: "2025-01-01T00:00:00.000Z",
	};
	const upload = {
		type: "company_registration" as const,
		metadata: { cnpj: "11222333000181" },
		content: { length: 42 },
		contentType: "application/pdf" as const,
	};

	test("a new record keeps the client's name and type for display only, pending review", () => {
		const doc = newDocumentRecord("d1", request, upload, {
			declaredType: "x".repeat(300),
			fileName: "../../etc/passwd",
			sha256: "abc",
			now: "2025-03-01T00:00:00.000Z",
		});
		expect(doc).toMatchObject({
			_id: "d1",
			requestId: "req1",
			size: 42,
			status: "pending_review",
			contentType: "application/pdf",
		});
		expect(doc.declaredType).toHaveLength(100);
		expect(doc.fileName).not.toContain("/");
		expect(
			newDocumentRecord("d2", request, upload, { declaredType: 7, fileName: null, sha256: "", now: "" }).declaredType,
		).toBeNull();
	});

	test("events carry ids, never the metadata; a request's transition event by target status", () => {
		const doc = newDocumentRecord("d1", request, upload, {
			declaredType: null,
			fileName: "a.pdf",
			sha256: "",
			now: "",
		});
		expect(JSON.stringify(documentUploadedEvent(doc))).not.toContain("11222333000181");
		expect(rejectedEvent(doc, undefined)).toEqual({
			type: "verification.rejected",
			data: { userId: "u1", role: "supplier", documentId: "d1", documentType: "company_registration", reason: "" },
		});
		expect(requestTransitionEvents(request, "in_review").map((e) => e.type)).toEqual(["verification.requested"]);
		expect(requestTransitionEvents(request, "approved").map((e) => e.type)).toEqual(["verification.approved"]);
		expect(requestTransitionEvents(request, "awaiting_documents")).toEqual([]);
	});
});
