/** Stored shapes of the verification service, and the params and results of its actions. */
import type { StoredDoc } from "../infra/store/types";
import type { Role } from "../domain/access";
import type {
	ContentType,
	DocumentMetadata,
	DocumentStatus,
	DocumentType,
	Progress,
	RequestStatus,
} from "../domain/documents";
import type { PageParams, PublicOf } from "./common";

/** One per invited supplier or courier (unique on userId): the documents its role needs. */
export interface VerificationRequest extends StoredDoc {
	userId: string;
	role: Role;
	supplierId: string | null;
	inviteId: string | null;
	required: DocumentType[];
	status: RequestStatus;
	approvedAt?: string;
	createdAt: string;
	updatedAt: string;
}

/** An uploaded document (record kind "documents"); the file is encrypted under the documents folder as `<_id>.enc`. */
export interface VerificationDocument extends StoredDoc {
	userId: string;
	role: Role;
	requestId: string;
	type: DocumentType;
	metadata: DocumentMetadata;
	/** What the bytes are (sniffed), and what the client declared. */
	contentType: ContentType;
	declaredType: string | null;
	/** The client's file name, for display only. */
	fileName: string;
	size: number;
	sha256: string;
	status: DocumentStatus;
	uploadedAt: string;
	reviewedAt?: string;
	reviewedBy?: string;
	/** Why it was rejected. */
	reason?: string;
	supersededBy?: string;
}

export type PublicDocument = PublicOf<VerificationDocument>;

export interface StatusParams extends PageParams {
	userId?: string;
	queue?: boolean;
}

export interface ReviewParams {
	id: string;
	decision: "approve" | "reject";
	reason?: string;
}

export interface DocumentIdParams {
	id: string;
}

/** A user's verification as GET /api/verification/status shows it. */
export interface VerificationStatus {
	userId: string;
	role: Role;
	supplierId: string | null;
	status: RequestStatus;
	required: Progress["documents"];
	documents: PublicDocument[];
	createdAt: string;
	approvedAt: string | null;
}
