import { cnpjCheckDigits, formatCnpj, isValidCnpj, normalizeCnpj } from "../../lib/domain/cnpj";

describe("CNPJ", () => {
	test("accepts numeric CNPJs with correct check digits, formatted or not", () => {
		expect(isValidCnpj("11.222.333/0001-81")).toBe(true);
		expect(isValidCnpj("11222333000181")).toBe(true);
		expect(isValidCnpj(" 11222333000181 ")).toBe(true);
	});

	test("rejects a wrong first or second check digit", () => {
		expect(isValidCnpj("11.222.333/0001-91")).toBe(false);
		expect(isValidCnpj("11.222.333/0001-82")).toBe(false);
	});

	test("computes check digits (including the remainder < 2 → 0 case)", () => {
		expect(cnpjCheckDigits("112223330001")).toBe("81");
		// 00.000.000/0001-91 is the Banco do Brasil CNPJ: second digit from remainder 10
		expect(isValidCnpj("00.000.000/0001-91")).toBe(true);
	});

	test("accepts the alphanumeric format (Receita Federal example) and rejects a tampered one", () => {
		expect(isValidCnpj("12.ABC.345/01DE-35")).toBe(true);
		expect(isValidCnpj("12.abc.345/01de-35")).toBe(true);
		expect(isValidCnpj("12.ABC.345/01DF-35")).toBe(false);
	});

	test("rejects wrong shapes and repeated digits", () => {
		for (const bad of [
			"",
			"1122233300018",
			"112223330001811",
			"11222333000A81",
			"00000000000000",
			"11111111111111",
			"1122233300018X",
		])
			expect(isValidCnpj(bad)).toBe(false);
	});

	test("normalizes and formats", () => {
		expect(normalizeCnpj("11.222.333/0001-81")).toBe("11222333000181");
		expect(formatCnpj("11222333000181")).toBe("11.222.333/0001-81");
	});
});
