//! The filter bar shared by the Credits and Conversations tabs.

use leptos::prelude::*;

use super::period::PERIOD_KEYS;
use crate::domain::ledger::Action;
use crate::model::{Directory, Filters};
use crate::query::Query;

/// Options of a filter under an optional group label: (group, [(id, text)]).
type OptionGroup = (Option<&'static str>, Vec<(String, String)>);

/// User, action (grouped by category), campaign and identity filters; each
/// change navigates (the query string is the state), and without
/// JavaScript the form submits as a plain GET.
#[component]
pub fn FilterBar(
    path: &'static str,
    params: Query,
    filters: Filters,
    directory: Directory,
    /// Credits have actions; conversations do not.
    with_action: bool,
) -> impl IntoView {
    let f = filters;
    let hidden = params.only(|k| PERIOD_KEYS.contains(&k));
    let select = move |name: &'static str,
                       label: &'static str,
                       current: Option<String>,
                       options: Vec<(String, String, Option<&'static str>)>| {
        let mut groups: Vec<OptionGroup> = Vec::new();
        for (id, text, group) in options {
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, items)) => items.push((id, text)),
                None => groups.push((group, vec![(id, text)])),
            }
        }
        let cur = current.clone().unwrap_or_default();
        view! {
            <label class="filter">{label}
                <select name=name data-filter=name>
                    <option value="" selected=current.is_none()>"All"</option>
                    {groups.into_iter().map(|(group, items)| {
                        let opts = items.into_iter().map(|(id, text)| {
                            let sel = id == cur;
                            view! { <option value=id selected=sel>{text}</option> }
                        }).collect_view();
                        match group {
                            Some(g) => view! { <optgroup label=g>{opts}</optgroup> }.into_any(),
                            None => opts.into_any(),
                        }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let users = directory
        .users
        .iter()
        .map(|u| (u.id.clone(), u.name.clone(), None))
        .collect();
    let actions = Action::ALL
        .iter()
        .map(|a| {
            (
                a.key().to_string(),
                a.label().to_string(),
                Some(a.category().label()),
            )
        })
        .collect();
    let campaigns = directory
        .campaigns
        .iter()
        .map(|c| {
            let status = c
                .status
                .clone()
                .filter(|s| s != "active")
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            (c.id.clone(), format!("{}{status}", c.name), None)
        })
        .collect();
    let identities = directory
        .identities
        .iter()
        .map(|i| (i.id.clone(), i.name.clone(), None))
        .collect();
    let any = f.user_id.is_some()
        || f.action.is_some()
        || f.campaign_id.is_some()
        || f.identity_id.is_some();
    let clear = hidden.href(path);
    view! {
        <form method="get" action=path class="card filters" aria-label="Filters">
            {hidden.pairs().iter().map(|(k, v)| view! { <input type="hidden" name=k.clone() value=v.clone()/> }).collect_view()}
            {select("user", "User", f.user_id.clone(), users)}
            {with_action.then(|| select("action", "Action", f.action.clone(), actions))}
            {select("campaign", "Campaign", f.campaign_id.clone(), campaigns)}
            {select("identity", "Identity", f.identity_id.clone(), identities)}
            <noscript><button type="submit" class="secondary">"Apply"</button></noscript>
            {any.then(|| view! { <a href=clear class="clear" data-testid="clear-filters">"Clear filters"</a> })}
        </form>
    }
}
