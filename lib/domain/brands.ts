/**
 * LPG brands (distribuidoras) a product carries, so customers can filter the catalog by brand.
 * A product stored before brands existed, or one whose brand is not on the list, reads as "other".
 */

export const BRANDS = [
	"ultragaz",
	"liquigas",
	"supergasbras",
	"copagaz",
	"nacional_gas",
	"consigaz",
	"fogas",
	"other",
] as const;
export type Brand = (typeof BRANDS)[number];

/** How each brand is written for people. */
export const BRAND_LABELS: Record<Brand, string> = {
	ultragaz: "Ultragaz",
	liquigas: "Liquigás",
	supergasbras: "Supergasbras",
	copagaz: "Copagaz",
	nacional_gas: "Nacional Gás",
	consigaz: "Consigaz",
	fogas: "Fogás",
	other: "Outra marca",
};

export function isBrand(value: unknown): value is Brand {
	return typeof value === "string" && (BRANDS as readonly string[]).includes(value);
}

/** A product's brand: its own when it is a known one, else "other". */
export function brandOf(product: { brand?: unknown }): Brand {
	return isBrand(product.brand) ? product.brand : "other";
}
