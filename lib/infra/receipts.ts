/**
 * Issuing receipts: the ReceiptProvider interface the receipts service talks to, and the one
 * provider built so far, an HTML receipt rendered in process (lib/domain/receipt.ts). A real NF-e /
 * NFC-e provider (an authorised issuer's API) implements the same interface: it gets the same
 * input, answers its own number, access key and document, and may fail (the receipts service
 * retries through the event's redelivery and dead-letters what keeps failing).
 */
import { renderReceiptHtml, ReceiptInput } from "../domain/receipt";

export interface IssuedReceipt {
	/** The provider's receipt number (an NF-e's number/series, or ours). */
	number: string;
	/** An NF-e's 44-digit access key; null for the HTML receipt. */
	accessKey: string | null;
	contentType: string;
	/** The document (HTML text; a provider returning a PDF would give it base64-encoded). */
	body: string;
	encoding: "utf8" | "base64";
}

export interface ReceiptProvider {
	readonly name: string;
	issue(input: ReceiptInput): Promise<IssuedReceipt>;
}

/** The receipt as an HTML page we render ourselves (no fiscal value: it says so). */
export class HtmlReceiptProvider implements ReceiptProvider {
	readonly name = "html";
	async issue(input: ReceiptInput): Promise<IssuedReceipt> {
		return {
			number: input.number,
			accessKey: null,
			contentType: "text/html; charset=utf-8",
			body: renderReceiptHtml(input),
			encoding: "utf8",
		};
	}
}

/** The provider named by RECEIPT_PROVIDER (only "html" exists so far). */
export function receiptProvider(name: string): ReceiptProvider {
	if (name === "html") return new HtmlReceiptProvider();
	throw new Error(`RECEIPT_PROVIDER '${name}' is not a known receipt provider (known: html)`);
}
