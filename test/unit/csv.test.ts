import { csvCell, parseCsv, toCsv } from "../../lib/domain/csv";

describe("csv", () => {
	it("quotes cells with commas, quotes, line breaks or edge spaces, and doubles quotes", () => {
		expect(csvCell("plain")).toBe("plain");
		expect(csvCell("a,b")).toBe('"a,b"');
		expect(csvCell('say "hi"')).toBe('"say ""hi"""');
		expect(csvCell("two\nlines")).toBe('"two\nlines"');
		expect(csvCell(" padded")).toBe('" padded"');
	});

	it("writes numbers, booleans, empty values and objects", () => {
		expect(csvCell(12990)).toBe("12990");
		expect(csvCell(-5)).toBe("-5");
		expect(csvCell(NaN)).toBe("");
		expect(csvCell(null)).toBe("");
		expect(csvCell(undefined)).toBe("");
		expect(csvCell(true)).toBe("true");
		expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
	});

	it("defuses spreadsheet formulas in text cells", () => {
		expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
		expect(csvCell("+1")).toBe("'+1");
		expect(csvCell("@cmd")).toBe("'@cmd");
		expect(csvCell("-2")).toBe("'-2");
	});

	it("renders a table with a header and CRLF line ends that parses back", () => {
		const csv = toCsv(
			[
				{ key: "supplierId", header: "supplier" },
				{ key: "reason", header: "reason" },
				{ key: "count", header: "count" },
			],
			[
				{ supplierId: "s1", reason: 'out of "gas", sorry', count: 2 },
				{ supplierId: "s2", reason: null, count: 0 },
			],
		);
		expect(csv).toBe('supplier,reason,count\r\ns1,"out of ""gas"", sorry",2\r\ns2,,0\r\n');
		expect(parseCsv(csv)).toEqual([
			["supplier", "reason", "count"],
			["s1", 'out of "gas", sorry', "2"],
			["s2", "", "0"],
		]);
	});
});
