//! A sortable table's browser half: the server renders it sorted by value
//! (`ui/server/table.rs`); a click on a header's button reorders its rows.

use wasm_bindgen::JsCast;

use crate::ui::markup::{Behaviour, SortBy, ROW_VALUE};

/// Sorts the table of a clicked sort button by its column: the same
/// column again turns the order round; another starts descending for
/// figures and ascending for names (ties by name).
pub fn sort_by_header(button: &web_sys::Element) -> Option<()> {
    let th = button.closest("th").ok()??;
    let table = th.closest("table").ok()??;
    let by_value = SortBy::parse(&button.get_attribute(Behaviour::Sort.attr())?)? == SortBy::Value;
    let desc = match th.get_attribute("aria-sort").as_deref() {
        Some("descending") => false,
        Some("ascending") => true,
        _ => by_value,
    };
    let heads = table.query_selector_all("thead th[aria-sort]").ok()?;
    for i in 0..heads.length() {
        if let Some(h) = heads
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
        {
            let _ = h.set_attribute("aria-sort", "none");
        }
    }
    let _ = th.set_attribute("aria-sort", if desc { "descending" } else { "ascending" });
    let body = table.query_selector("tbody").ok()??;
    let found = body.query_selector_all("tr").ok()?;
    let mut rows: Vec<(String, i64, web_sys::Element)> = (0..found.length())
        .filter_map(|i| found.item(i)?.dyn_into::<web_sys::Element>().ok())
        .map(|tr| {
            let label = tr
                .query_selector("th")
                .ok()
                .flatten()
                .and_then(|c| c.text_content())
                .unwrap_or_default();
            let value = tr
                .get_attribute(ROW_VALUE)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (label, value, tr)
        })
        .collect();
    if by_value {
        rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
    } else {
        rows.sort_by_cached_key(|r| r.0.to_lowercase());
    }
    if desc {
        rows.reverse();
    }
    for (_, _, tr) in rows {
        let _ = body.append_child(&tr);
    }
    Some(())
}
