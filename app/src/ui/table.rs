//! The accessible, sortable table under every chart: the chart is a
//! picture, the table is the truth (and what renders without JavaScript).

use leptos::prelude::*;

use crate::format::{fixed, thousands};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Label,
    Value,
}

/// A table sorted by value (descending) until a header is clicked.
#[component]
pub fn SortableTable(
    id: &'static str,
    caption: &'static str,
    key_header: &'static str,
    extra_header: Option<&'static str>,
    value_header: &'static str,
    rows: Vec<TableRow>,
    #[prop(optional)] cost_header: Option<&'static str>,
) -> impl IntoView {
    let sort = RwSignal::new((SortBy::Value, true));
    let rows = StoredValue::new(rows);
    let sorted = move || {
        let (by, desc) = sort.get();
        let mut r = rows.get_value();
        match by {
            SortBy::Label => r.sort_by_key(|a| a.label.to_lowercase()),
            SortBy::Value => {
                r.sort_by(|a, b| a.value.cmp(&b.value).then_with(|| b.label.cmp(&a.label)))
            }
        }
        if desc {
            r.reverse();
        }
        r
    };
    let header = move |by: SortBy, text: &'static str| {
        let aria = move || match sort.get() {
            (b, true) if b == by => "descending",
            (b, false) if b == by => "ascending",
            _ => "none",
        };
        view! {
            <th scope="col" aria-sort=aria>
                <button type="button" class="sort" on:click=move |_| sort.update(|s| *s = if s.0 == by { (by, !s.1) } else { (by, by == SortBy::Value) })>
                    {text}
                </button>
            </th>
        }
    };
    let empty = rows.with_value(|r| r.is_empty());
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
                    </tr>
                </thead>
                <tbody>
                    {move || sorted().into_iter().map(|r| {
                        let swatch = r.color.clone().map(|c| view! { <span class="swatch" style=format!("background:{c}")></span> });
                        let label = match r.href.clone() {
                            Some(href) => view! { <a href=href class="row-link">{swatch}{r.label.clone()}</a> }.into_any(),
                            None => view! { <span>{swatch}{r.label.clone()}</span> }.into_any(),
                        };
                        view! {
                            <tr data-key=r.key.clone() data-value=r.value>
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
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {empty.then(|| view! { <p class="empty">"Nothing to show for this period."</p> })}
        </div>
    }
}
