/**
 * The products service's read model of suppliers (record kind `suppliers`, `_id` = supplierId):
 * written from supplier.created / user.* events, read by the catalog and by reservations.
 * `changed` is called after each write (the service clears its cached catalog answers).
 */
import type { SupplierListing } from "../contracts/products";
import { clientError } from "./errors";
import { nowIso } from "./ids";
import { Collection, UniqueViolationError } from "./store/types";

export class SupplierListings {
	constructor(
		private readonly listings: Collection<SupplierListing>,
		private readonly changed: () => Promise<unknown> = async () => undefined,
	) {}

	get(supplierId: string): Promise<SupplierListing | null> {
		return this.listings.findById(supplierId);
	}

	all(): Promise<SupplierListing[]> {
		return this.listings.find({});
	}

	/** The supplier's listing when it may sell; else SUPPLIER_NOT_ACTIVE (409, from the error catalogue). */
	async activeOr403(supplierId: string): Promise<SupplierListing> {
		const supplier = await this.get(supplierId);
		if (!supplier || supplier.active === false)
			throw clientError(
				"SUPPLIER_NOT_ACTIVE",
				"This supplier has no active catalog profile yet (verification must be approved first)",
				{ supplierId },
			);
		return supplier;
	}

	/** Writes the listing whole (an insert racing another one turns into the update). */
	async upsert(listing: SupplierListing): Promise<void> {
		const { _id, ...fields } = listing;
		if (!(await this.listings.updateOne({ _id }, { $set: fields }))) {
			try {
				await this.listings.insert(listing);
			} catch (err) {
				if (!(err instanceof UniqueViolationError)) throw err;
				await this.listings.updateOne({ _id }, { $set: fields });
			}
		}
		await this.changed();
	}

	async setActive(supplierId: string, active: boolean): Promise<void> {
		await this.listings.updateOne({ _id: supplierId }, { $set: { active, updatedAt: nowIso() } });
		await this.changed();
	}

	/** Changes an existing listing's fields (a supplier's profile edit); no listing, nothing changes. */
	async update(supplierId: string, fields: Partial<SupplierListing>): Promise<void> {
		await this.listings.updateOne({ _id: supplierId }, { $set: fields });
		await this.changed();
	}

	/** The supplier's rating totals from rating.updated; an older total (a smaller count) never overwrites a newer one. */
	async setRating(supplierId: string, average: number, count: number): Promise<boolean> {
		const newer = { $or: [{ ratingCount: { $exists: false } }, { ratingCount: { $lt: count } }] };
		const set = { rating: average, ratingCount: count, updatedAt: nowIso() };
		const changed = await this.listings.updateOne({ _id: supplierId, ...newer }, { $set: set });
		if (changed) await this.changed();
		return !!changed;
	}
}
