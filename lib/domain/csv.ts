/** CSV (RFC 4180) for downloadable reports: quoted when needed, CRLF line ends, safe in spreadsheets. */

export interface CsvColumn {
	key: string;
	header: string;
}

// A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
	if (value === null || value === undefined) return "";
	let text: string;
	if (typeof value === "number") text = Number.isFinite(value) ? String(value) : "";
	else if (typeof value === "boolean") text = value ? "true" : "false";
	else if (typeof value === "object") text = JSON.stringify(value);
	else {
		text = String(value);
		if (FORMULA_START.test(text)) text = `'${text}`;
	}
	return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: CsvColumn[], rows: Record<string, unknown>[]): string {
	const lines = [columns.map((c) => csvCell(c.header)).join(",")];
	for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
	return lines.join("\r\n") + "\r\n";
}

/** Parses CSV produced by toCsv (quoted fields, doubled quotes, CRLF); used by tests and imports. */
export function parseCsv(text: string): string[][] {
	const rows: string[][] = [];
	let row: string[] = [];
	let cell = "";
	let quoted = false;
	for (let i = 0; i < text.length; i++) {
		const ch = text[i];
		if (quoted) {
			if (ch === '"' && text[i + 1] === '"') {
				cell += '"';
				i++;
			} else if (ch === '"') quoted = false;
			else cell += ch;
		} else if (ch === '"') quoted = true;
		else if (ch === ",") {
			row.push(cell);
			cell = "";
		} else if (ch === "\n" || ch === "\r") {
			if (ch === "\r" && text[i + 1] === "\n") i++;
			row.push(cell);
			rows.push(row);
			row = [];
			cell = "";
		} else cell += ch;
	}
	if (cell !== "" || row.length > 0) {
		row.push(cell);
		rows.push(row);
	}
	return rows;
}
