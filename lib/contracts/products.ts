/** Stored shapes of the products service. */
import type { StoredDoc } from "../infra/store/types";

export interface Product extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}

export interface SupplierListing extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}

export interface StockReservation extends StoredDoc {
	createdAt?: string;
	updatedAt?: string;
}
