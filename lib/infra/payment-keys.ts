/**
 * The simulated provider's memory of idempotency keys, kept in a record kind of the payments store
 * (so it survives a restart: the point of a key is retrying after a crash).
 */
import type { ProviderKeyRecord } from "../contracts/payments";
import type { IdempotencyKeyStore, IdempotencyRecord } from "./payment-provider";
import { Collection, UniqueViolationError } from "./store/types";

function fromStored(doc: ProviderKeyRecord): IdempotencyRecord {
	return { key: doc._id, operation: doc.operation, fingerprint: doc.fingerprint, outcome: doc.outcome, at: doc.at };
}

/** `keys` is resolved per call: the store opens when the service starts, after the provider is made. */
export function collectionKeyStore(keys: () => Collection<ProviderKeyRecord>): IdempotencyKeyStore {
	return {
		async get(key) {
			const doc = await keys().findById(key);
			return doc ? fromStored(doc) : null;
		},
		async putFirst(record) {
			const { key, ...rest } = record;
			try {
				await keys().insert({ _id: key, ...rest });
				return { record, created: true };
			} catch (err) {
				if (!(err instanceof UniqueViolationError)) throw err;
				const first = await keys().findById(key);
				if (!first) throw err;
				return { record: fromStored(first), created: false };
			}
		},
	};
}
