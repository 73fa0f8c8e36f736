/** Stored shapes of the proofs service (proof of delivery), and its actions' params. */
import type { StoredDoc } from "../infra/store/types";
import type { ProofPhotoType } from "../domain/proofs";
import { idParam } from "./params";

/** An order's proof of delivery (collection `proofs`, `_id` = orderId: one per order). */
export interface DeliveryProof extends StoredDoc {
	orderId: string;
	customerId: string;
	supplierId: string;
	courierId: string;
	/** Who received the cylinder for an absent customer; null when the customer took it. */
	leftWith: string | null;
	/** The encrypted file's id (DocumentFiles, under DOCUMENTS_DIR). */
	fileId: string;
	contentType: ProofPhotoType;
	size: number;
	sha256: string;
	createdAt: string;
}

export type PublicProof = Omit<DeliveryProof, "_id" | "fileId" | "sha256"> & { photoUrl: string };

export const PROOF_PARAMS = {
	get: { id: idParam },
	forOrder: { orderId: idParam },
} as const;
