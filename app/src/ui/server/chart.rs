//! A chart's box, rendered with its ECharts options beside it (a JSON data
//! block, see [`crate::ui::markup`]); the browser draws what it finds
//! (`ui/browser/charts.rs`). The options are built on the server too
//! ([`crate::charts::options`]).

use leptos::prelude::*;

use crate::model::ChartOptions;
use crate::ui::markup::{chart_block, Drill};

/// A chart box and its options; `describe` is its text alternative.
#[component]
pub fn EChart(
    id: &'static str,
    options: ChartOptions,
    #[prop(into)] describe: String,
    drill: Option<Drill>,
) -> impl IntoView {
    // The names are the workspace's own (a user may be called
    // `</script>`), so the whole block is escaped.
    let json = crate::security::script_text(&chart_block(&options, drill.as_ref()));
    view! {
        <div id=id class="chart" role="img" aria-label=describe data-chart=id></div>
        <script type="application/json" data-chart-options=id inner_html=json></script>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_close_the_options_script() {
        let options = ChartOptions {
            light: r#"{"series":[{"name":"</script><script>alert(1)</script>"}]}"#.into(),
            dark: "{}".into(),
        };
        let drill = Drill {
            param: "user",
            by_series: true,
            names: vec![("<!-- & </script>".into(), "u_1".into())],
        };
        let html = view! { <EChart id="chart-users" options describe="Users" drill=Some(drill)/> }
            .to_html();
        assert_eq!(html.matches("</script>").count(), 1, "{html}");
        let json = html
            .split("data-chart-options=\"chart-users\">")
            .nth(1)
            .and_then(|r| r.split("</script>").next())
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(
            value["light"]["series"][0]["name"],
            "</script><script>alert(1)</script>"
        );
        assert_eq!(value["drill"]["names"]["<!-- & </script>"], "u_1");
        assert_eq!(value["drill"]["param"], "user");
        assert_eq!(value["dark"], serde_json::json!({}));
        assert_eq!(crate::ui::markup::check(&html), Vec::<String>::new());
    }
}
