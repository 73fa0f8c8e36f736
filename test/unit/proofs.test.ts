import {
	attachProblem,
	deliveryProofProblem,
	mayViewProof,
	photoProblem,
	recipientName,
} from "../../lib/domain/proofs";

const order = { status: "in_transit", customerId: "c1", supplierId: "s1", courierId: "k1" };

test("only the order's courier attaches a proof, while in transit", () => {
	expect(attachProblem(order, { id: "k1", role: "courier" })).toBeNull();
	expect(attachProblem(order, { id: "k2", role: "courier" })?.code).toBe(403);
	expect(attachProblem(order, { id: "c1", role: "customer" })?.code).toBe(403);
	expect(attachProblem({ ...order, status: "delivered" }, { id: "k1", role: "courier" })?.code).toBe(409);
	expect(attachProblem(null, { id: "k1", role: "courier" })?.code).toBe(404);
});

test("photos are JPEG or PNG by their bytes; names are tidied", () => {
	expect(photoProblem(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1]))).toEqual({ contentType: "image/jpeg" });
	expect(photoProblem(Buffer.from("%PDF-1.4"))).toMatchObject({ code: 415 });
	expect(photoProblem(Buffer.alloc(0))).toMatchObject({ code: 422 });
	expect(recipientName("  Dona   Zefa ")).toBe("Dona Zefa");
	expect(recipientName("   ")).toBeNull();
	expect(recipientName(undefined)).toBeNull();
});

test("a delivery left with someone needs a proof naming them; who sees the proof", () => {
	expect(deliveryProofProblem(undefined, null)).toBeNull();
	expect(deliveryProofProblem("Zefa", null)?.type).toBe("PROOF_PHOTO_REQUIRED");
	expect(deliveryProofProblem("Zefa", { leftWith: null })?.type).toBe("PROOF_PHOTO_REQUIRED");
	expect(deliveryProofProblem("Zefa", { leftWith: "Zefa" })).toBeNull();
	const proof = { customerId: "c1", supplierId: "s1" };
	expect(mayViewProof(proof, { id: "c1", role: "customer" })).toBe(true);
	expect(mayViewProof(proof, { id: "s1", role: "supplier" })).toBe(true);
	expect(mayViewProof(proof, { id: "a", role: "admin" })).toBe(true);
	expect(mayViewProof(proof, { id: "k1", role: "courier" })).toBe(false);
	expect(mayViewProof(proof, { id: "c2", role: "customer" })).toBe(false);
});
