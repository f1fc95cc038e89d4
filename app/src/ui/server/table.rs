//! The accessible, sortable table under every chart: the chart is a
//! picture, the table is the truth (and what renders without JavaScript).

use leptos::prelude::*;

use crate::format::{fixed, thousands};
use crate::ui::markup::SortBy;

/// One row: a key to filter by, its label and figures.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub key: String,
    pub label: String,
    /// A second column (category, status), when the table has one.
    pub extra: Option<String>,
    pub value: i64,
    /// 0.0 ..= 1.0 of the total.
    pub share: f64,
    /// Link that filters by this row.
    pub href: Option<String>,
    pub color: Option<String>,
    /// Credits per conversation ("—" where there are no conversations).
    pub cost: Option<Option<f64>>,
    /// This cycle's effective limit, what is left of it, and whether it
    /// is reached ("—" where no limit applies), when the table has them.
    pub limit: Option<(i64, i64, bool)>,
}

impl TableRow {
    /// `value`'s share of `total` (0 where the total is).
    pub fn share_of(value: i64, total: i64) -> f64 {
        if total > 0 {
            value as f64 / total as f64
        } else {
            0.0
        }
    }
}

/// A table sorted by value (descending) until a header is clicked: the
/// server renders it in that order, and `ui/browser/table.rs` reorders its
/// rows in the browser (the page's one click listener calls it).
#[component]
pub fn SortableTable(
    id: &'static str,
    caption: &'static str,
    key_header: &'static str,
    extra_header: Option<&'static str>,
    value_header: &'static str,
    mut rows: Vec<TableRow>,
    #[prop(optional)] cost_header: Option<&'static str>,
    /// Adds this cycle's limit and left columns.
    #[prop(optional)]
    limits: bool,
) -> impl IntoView {
    rows.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
    let header = move |by: SortBy, text: &'static str| {
        view! {
            <th scope="col" aria-sort=if by == SortBy::Value { "descending" } else { "none" }>
                <button type="button" class="sort" data-sort=by.key()>{text}</button>
            </th>
        }
    };
    let empty = rows.is_empty();
    view! {
        <div class="table-wrap">
            <table id=id class="data">
                <caption class="visually-hidden">{caption}</caption>
                <thead>
                    <tr>
                        {header(SortBy::Label, key_header)}
                        {extra_header.map(|h| view! { <th scope="col" class="extra">{h}</th> })}
                        {header(SortBy::Value, value_header)}
                        <th scope="col" class="share">"Share"</th>
                        {cost_header.map(|h| view! { <th scope="col">{h}</th> })}
                        {limits.then(|| view! { <th scope="col" class="extra">"Limit (cycle)"</th><th scope="col">"Left"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let swatch = r.color.clone().map(|c| view! { <span class="swatch" style=format!("background:{c}")></span> });
                        let label = match r.href.clone() {
                            Some(href) => view! { <a href=href class="row-link">{swatch}{r.label.clone()}</a> }.into_any(),
                            None => view! { <span>{swatch}{r.label.clone()}</span> }.into_any(),
                        };
                        let reached = r.limit.is_some_and(|l| l.2);
                        let limit_cells = limits.then(|| match r.limit {
                            Some((effective, left, _)) => view! {
                                <td class="num extra" data-limit=effective>{thousands(effective)}</td>
                                <td class="num limit-left" data-left=left>{thousands(left)}{reached.then_some(" · limit reached")}</td>
                            }.into_any(),
                            None => view! { <td class="num extra">"—"</td><td class="num limit-left">"—"</td> }.into_any(),
                        });
                        view! {
                            <tr data-key=r.key.clone() data-value=r.value class:limit-reached=reached>
                                <th scope="row">{label}</th>
                                {extra_header.map(|_| view! { <td class="extra">{r.extra.clone().unwrap_or_default()}</td> })}
                                // On a narrow screen the share folds under the value (CSS).
                                <td class="num">{thousands(r.value)}<span class="share-inline">{format!("{}%", fixed(r.share * 100.0, 1))}</span></td>
                                <td class="num share">{format!("{}%", fixed(r.share * 100.0, 1))}</td>
                                {cost_header.map(|_| view! {
                                    <td class="num" data-cost=r.cost.flatten().map(|c| fixed(c, 2)).unwrap_or_default()>
                                        {r.cost.flatten().map_or("—".to_string(), |c| fixed(c, 2))}
                                    </td>
                                })}
                                {limit_cells}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {empty.then(|| view! { <p class="empty">"Nothing to show for this period."</p> })}
        </div>
    }
}
