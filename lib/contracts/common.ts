/** Shapes shared by every contract: points, pages, the caller, the action context. */
import type { Context } from "moleculer";
import type { AuthUser } from "../domain/access";

export type { AuthUser, Role } from "../domain/access";

export interface Point {
	lat: number;
	lng: number;
}

/** What the gateway and callers put in ctx.meta. */
export interface CallMeta {
	user?: AuthUser;
	idempotencyKey?: string;
	locale?: string;
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
	$responseType?: string;
	actorId?: string;
	[key: string]: unknown;
}

/** An action's context with typed params and the gateway's meta. */
export type Ctx<P = Record<string, unknown>> = Context<P, CallMeta>;

/**
 * What every asynchronous acceptance (HTTP 202) answers: `accepted` (false: the request was valid
 * but ignored, `reason` says why), `id` of the resource the work is about (null when none), and the
 * route's own details beside them (e.g. `recipients` of a notification).
 */
export type Accepted<Extra extends object = object> = { accepted: boolean; id: string | null; reason?: string } & Extra;

/** One page of a list: `total` only when the caller asked for it (counting is not free). */
export interface Page<T> {
	rows: T[];
	page: number;
	pageSize: number;
	total?: number;
	/** Opaque cursor for the next page (keyset pagination), null on the last page. */
	next?: string | null;
}

export interface PageParams {
	page: number;
	pageSize: number;
}

/**
 * The output form of a stored document: `_id` as `id`, the `Hidden` fields left out. (Omit<> would
 * lose the named fields of a type with StoredDoc's index signature; key remapping keeps them.)
 */
export type PublicOf<T, Hidden extends string = never> = {
	[K in keyof T as K extends "_id" | Hidden ? never : K]: T[K];
} & { id: string };
