/**
 * Opaque keyset cursors for lists sorted by (createdAt desc, _id desc): the position of the last row
 * of a page, base64url-encoded. A cursor that does not decode is a client error (null here).
 */
export interface CursorPosition {
	createdAt: string;
	id: string;
}

export function encodeCursor(position: CursorPosition): string {
	return Buffer.from(JSON.stringify([position.createdAt, position.id]), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): CursorPosition | null {
	try {
		const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
		if (!Array.isArray(value) || value.length !== 2) return null;
		const [createdAt, id] = value as unknown[];
		if (typeof createdAt !== "string" || typeof id !== "string" || !Number.isFinite(Date.parse(createdAt))) return null;
		return { createdAt, id };
	} catch {
		return null;
	}
}
