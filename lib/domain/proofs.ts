/**
 * Proof of delivery: besides the handover code, the courier may attach a photo when delivering;
 * it is required when the customer was absent and the cylinder was left with someone, whose name
 * is recorded. The photo is seen by the order's customer, its supplier and admins.
 */
import { ErrorType, refusal } from "../contracts/error-catalogue";
import { sniffContentType } from "./documents";

export const MAX_PROOF_BYTES = 10 * 1024 * 1024;
export const PROOF_PHOTO_TYPES = ["image/jpeg", "image/png"] as const;
export type ProofPhotoType = (typeof PROOF_PHOTO_TYPES)[number];

/** The order's facts a proof needs (orders.trackingView, asked as the system). */
export interface ProofOrder {
	status: string | null;
	customerId: string | null;
	supplierId: string | null;
	courierId: string | null;
}

export interface ProofProblem {
	code: number;
	type: ErrorType;
	message: string;
}

/** Why `user` may not attach a proof to the order (null: they may): its courier, while delivering it. */
export function attachProblem(order: ProofOrder | null, user: { id: string; role: string }): ProofProblem | null {
	if (!order || !order.customerId) return { ...refusal("NOT_FOUND"), message: "order not found" };
	if (user.role !== "courier" || order.courierId !== user.id)
		return { ...refusal("FORBIDDEN"), message: "Only the order's courier attaches its proof of delivery" };
	if (order.status !== "in_transit")
		return {
			...refusal("NOT_IN_TRANSIT"),
			message: "A proof of delivery is attached while the order is in transit",
		};
	return null;
}

/** The photo's type from its bytes (JPEG or PNG), or a problem. */
export function photoProblem(content: Buffer): ProofProblem | { contentType: ProofPhotoType } {
	if (content.length === 0) return { ...refusal("UNPROCESSABLE"), message: "The photo is empty" };
	const type = sniffContentType(content.subarray(0, 16));
	if (type === "image/jpeg" || type === "image/png") return { contentType: type };
	return { ...refusal("UNSUPPORTED_FILE_TYPE"), message: "The photo is not a JPEG or PNG" };
}

/** The name of whoever received the cylinder for an absent customer, tidied; null when none was given. */
export function recipientName(value: unknown): string | null {
	if (typeof value !== "string") return null;
	const name = value.trim().replace(/\s+/g, " ");
	return name.length > 0 ? name.slice(0, 120) : null;
}

/** Only the order's customer, its supplier and admins see the proof. */
export function mayViewProof(proof: { customerId: string; supplierId: string }, user: { id: string; role: string }) {
	if (user.role === "admin") return true;
	if (user.role === "customer") return proof.customerId === user.id;
	if (user.role === "supplier") return proof.supplierId === user.id;
	return false;
}

/**
 * Whether a delivery may be closed: when the cylinder was left with someone (`leftWith`), a proof
 * photo naming them must be attached first.
 */
export function deliveryProofProblem(
	leftWith: string | undefined,
	proof: { leftWith: string | null } | null,
): ProofProblem | null {
	if (leftWith === undefined) return null;
	if (!proof || !proof.leftWith)
		return {
			...refusal("PROOF_PHOTO_REQUIRED"),
			message: "Attach a photo naming who received the cylinder before closing a delivery for an absent customer",
		};
	return null;
}
