//! Where the tabs are: the base the app runs under (standalone or inside
//! the platform's iframe), each tab's path, and what a tab link carries.
//! The shell and the tabs both build on this module; it imports neither.

use leptos::prelude::*;

/// `""` standalone, `"/embed"` inside the platform's iframe.
#[derive(Clone, Copy, Debug)]
pub struct Base(pub &'static str);

/// The tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Plan,
    Credits,
    Conversations,
}

impl Base {
    /// Inside the platform's iframe.
    pub const EMBEDDED: Base = Base("/embed");
    /// Standalone.
    pub const STANDALONE: Base = Base("");

    /// The path of `tab` under this base: `/usage/credits`,
    /// `/embed/usage/credits`.
    pub fn path(self, tab: Tab) -> &'static str {
        let full = tab.embedded_path();
        // The embedded path is the standalone one under `/embed`.
        full.strip_prefix(Self::EMBEDDED.0)
            .filter(|_| self.0.is_empty())
            .unwrap_or(full)
    }
}

impl Tab {
    /// The tab at `path`, standalone or embedded: `/usage/credits` and
    /// `/embed/usage/credits` are the Credits tab.
    pub fn at(path: &str) -> Option<Tab> {
        [Tab::Plan, Tab::Credits, Tab::Conversations]
            .into_iter()
            .find(|t| {
                [Base::EMBEDDED, Base::STANDALONE]
                    .iter()
                    .any(|b| b.path(*t) == path)
            })
    }

    /// The tab's path under [`Base::EMBEDDED`].
    fn embedded_path(self) -> &'static str {
        match self {
            Tab::Plan => "/embed/usage/plan",
            Tab::Credits => "/embed/usage/credits",
            Tab::Conversations => "/embed/usage/conversations",
        }
    }
}

/// The document's title at the tab (`None`: the 404 page).
pub fn page_title(tab: Option<Tab>) -> &'static str {
    match tab {
        Some(Tab::Plan) => "Plan — Credits",
        Some(Tab::Credits) => "Credits — Credits usage",
        Some(Tab::Conversations) => "Conversations — Credits",
        None => "Page not found — Credits",
    }
}

/// The path of a tab under the current base.
pub fn tab_path(tab: Tab) -> &'static str {
    use_context::<Base>().unwrap_or(Base::STANDALONE).path(tab)
}

/// The view parameters a tab link carries, so that moving between tabs
/// keeps the period and the filters that apply there (the Plan tab keeps
/// them all, for the way back).
pub fn carried_params(tab: Tab, params: &[(String, String)]) -> Vec<(String, String)> {
    const CARRIED: [&str; 8] = [
        "period", "date", "from", "to", "user", "campaign", "identity", "action",
    ];
    params
        .iter()
        .filter(|(k, _)| CARRIED.contains(&k.as_str()))
        // Conversations have no action.
        .filter(|(k, _)| !(tab == Tab::Conversations && k == "action"))
        .cloned()
        .collect()
}

/// Bumped when the platform changes the theme, so charts redraw.
#[derive(Clone, Copy, Debug)]
pub struct ThemeVersion(pub RwSignal<u32>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_live_under_their_base() {
        assert_eq!(Base::STANDALONE.path(Tab::Plan), "/usage/plan");
        assert_eq!(Base::STANDALONE.path(Tab::Credits), "/usage/credits");
        assert_eq!(
            Base::EMBEDDED.path(Tab::Conversations),
            "/embed/usage/conversations"
        );
        for tab in [Tab::Plan, Tab::Credits, Tab::Conversations] {
            assert_eq!(
                format!("{}{}", Base::EMBEDDED.0, Base::STANDALONE.path(tab)),
                Base::EMBEDDED.path(tab)
            );
        }
    }

    #[test]
    fn each_path_names_its_tab() {
        assert_eq!(Tab::at("/usage/plan"), Some(Tab::Plan));
        assert_eq!(Tab::at("/embed/usage/credits"), Some(Tab::Credits));
        assert_eq!(Tab::at("/usage/conversations"), Some(Tab::Conversations));
        for other in [
            "/",
            "/usage",
            "/embed/usage",
            "/usage/credits.csv",
            "/usage/plan/",
            "/demo",
        ] {
            assert_eq!(Tab::at(other), None, "{other}");
        }
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tabs_keep_the_period_and_the_filters_that_apply() {
        let params = p(&[
            ("period", "last_week"),
            ("action", "enrich_email"),
            ("user", "u_1"),
            ("junk", "x"),
        ]);
        assert_eq!(
            carried_params(Tab::Conversations, &params),
            p(&[("period", "last_week"), ("user", "u_1")])
        );
        assert_eq!(
            carried_params(Tab::Credits, &params),
            p(&[
                ("period", "last_week"),
                ("action", "enrich_email"),
                ("user", "u_1")
            ])
        );
        assert_eq!(carried_params(Tab::Plan, &params).len(), 3);
    }
}
