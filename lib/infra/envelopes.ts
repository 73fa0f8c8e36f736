import { EventEnvelope } from "../domain/events";
import { newId, nowIso } from "./ids";

/** A new envelope for a business event: a fresh id and the current time. */
export function makeEnvelope<T>(type: string, data: T, actor: string, requestId: string | null): EventEnvelope<T> {
	return { id: newId(), type, time: nowIso(), actor, requestId, data };
}
