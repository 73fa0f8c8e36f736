/**
 * Phone-sized screens, for every view without touching it: each cell of a `table.table` gets its
 * column's name (`data-label`, shown beside the value when the table becomes one card per row on a
 * phone; see styles.css), and a sideways-scrolling region (`.scroll`) can be reached and scrolled
 * with the keyboard (tabindex, a name for screen readers).
 */
function labelTable(table) {
	const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
	if (!heads.length) return;
	for (const row of table.querySelectorAll("tbody tr")) {
		let column = 0;
		for (const cell of row.children) {
			const label = heads[column] || "";
			if (cell.tagName === "TD" && cell.dataset.label !== label) cell.dataset.label = label;
			column += Number(cell.getAttribute("colspan")) || 1;
		}
	}
}

function focusableRegion(el) {
	if (el.hasAttribute("tabindex")) return;
	el.setAttribute("tabindex", "0");
	if (!el.hasAttribute("role")) el.setAttribute("role", "region");
	if (!el.hasAttribute("aria-label") && !el.hasAttribute("aria-labelledby")) {
		const title = el.closest("section")?.querySelector("h2, h3");
		el.setAttribute("aria-label", title ? title.textContent.trim() : document.title);
	}
}

function adapt(root) {
	for (const table of root.querySelectorAll("table.table")) labelTable(table);
	for (const region of root.querySelectorAll(".scroll")) focusableRegion(region);
}

let scheduled = false;
const observer = new MutationObserver(() => {
	if (scheduled) return;
	scheduled = true;
	requestAnimationFrame(() => {
		scheduled = false;
		adapt(document.body);
	});
});

export function start() {
	adapt(document.body);
	observer.observe(document.body, { childList: true, subtree: true });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
