//! Where the tabs are: the base the app runs under (standalone or inside
//! the platform's iframe), each tab's path, and what a tab link carries.
//! The shell and the tabs both build on this module; it imports neither.

use leptos::prelude::*;

use crate::query::Query;

/// Where the page runs: standalone, or inside the platform's iframe
/// (under `/embed`). Decided once, from the path the page was loaded at
/// ([`Base::at`]), provided to the page, and sent with each tab body's
/// request so that the server writes its links under the same base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Standalone,
    Embedded,
}

/// The tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Plan,
    Credits,
    Conversations,
}

impl Base {
    /// The base of a page loaded at `path`.
    pub fn at(path: &str) -> Base {
        Base::of(crate::security::is_embed_route(path))
    }

    /// [`Base::Embedded`] when `embedded`.
    pub fn of(embedded: bool) -> Base {
        if embedded {
            Base::Embedded
        } else {
            Base::Standalone
        }
    }

    /// Inside the platform's iframe.
    pub fn is_embedded(self) -> bool {
        self == Base::Embedded
    }

    /// The paths' prefix: `""` or `"/embed"`.
    pub fn prefix(self) -> &'static str {
        match self {
            Base::Standalone => "",
            Base::Embedded => "/embed",
        }
    }

    /// The path of `tab` under this base: `/usage/credits`,
    /// `/embed/usage/credits`.
    pub fn path(self, tab: Tab) -> &'static str {
        let full = tab.embedded_path();
        // The embedded path is the standalone one under `/embed`.
        full.strip_prefix(Base::Embedded.prefix())
            .filter(|_| !self.is_embedded())
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
                [Base::Embedded, Base::Standalone]
                    .iter()
                    .any(|b| b.path(*t) == path)
            })
    }

    /// The tab's path under [`Base::Embedded`].
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
    use_context::<Base>().unwrap_or(Base::Standalone).path(tab)
}

/// The view parameters a tab link carries, so that moving between tabs
/// keeps the period and the filters that apply there (the Plan tab keeps
/// them all, for the way back).
pub fn carried_params(tab: Tab, params: &Query) -> Query {
    const CARRIED: [&str; 8] = [
        "period", "date", "from", "to", "user", "campaign", "identity", "action",
    ];
    // Conversations have no action.
    params.only(|k| CARRIED.contains(&k) && !(tab == Tab::Conversations && k == "action"))
}

/// Bumped when the platform changes the theme, so charts redraw.
#[derive(Clone, Copy, Debug)]
pub struct ThemeVersion(pub RwSignal<u32>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_live_under_their_base() {
        assert_eq!(Base::Standalone.path(Tab::Plan), "/usage/plan");
        assert_eq!(Base::Standalone.path(Tab::Credits), "/usage/credits");
        assert_eq!(
            Base::Embedded.path(Tab::Conversations),
            "/embed/usage/conversations"
        );
        for tab in [Tab::Plan, Tab::Credits, Tab::Conversations] {
            assert_eq!(
                format!("{}{}", Base::Embedded.prefix(), Base::Standalone.path(tab)),
                Base::Embedded.path(tab)
            );
            assert_eq!(Base::at(Base::Embedded.path(tab)), Base::Embedded);
            assert_eq!(Base::at(Base::Standalone.path(tab)), Base::Standalone);
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

    #[test]
    fn tabs_keep_the_period_and_the_filters_that_apply() {
        let params = Query::of(&[
            ("period", "last_week"),
            ("action", "enrich_email"),
            ("user", "u_1"),
            ("junk", "x"),
        ]);
        assert_eq!(
            carried_params(Tab::Conversations, &params),
            Query::of(&[("period", "last_week"), ("user", "u_1")])
        );
        assert_eq!(
            carried_params(Tab::Credits, &params),
            Query::of(&[
                ("period", "last_week"),
                ("action", "enrich_email"),
                ("user", "u_1")
            ])
        );
        assert_eq!(carried_params(Tab::Plan, &params).len(), 3);
    }
}
