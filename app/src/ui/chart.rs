//! An ECharts chart, drawn with charming after hydration in a box whose
//! size is reserved by CSS (no layout shift), following the theme and the
//! container's width. Clicking a segment, slice or legend entry reports the
//! series id and the item's name.

use charming::Chart;
use leptos::prelude::*;

/// What a click on a chart names.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartClick {
    /// The series id (an action or user key for stacked bars).
    pub series_id: Option<String>,
    /// The item's or legend entry's name (a slice label for pies).
    pub name: Option<String>,
}

/// Whether the page is in the dark theme.
pub fn dark_theme() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let explicit = leptos::prelude::document()
            .document_element()
            .and_then(|e| e.get_attribute("data-theme"));
        match explicit.as_deref() {
            Some("dark") => return true,
            Some("light") => return false,
            _ => {}
        }
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches())
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

/// A chart box; `describe` is its text alternative.
#[component]
pub fn EChart(
    id: &'static str,
    #[prop(into)] chart: Signal<Chart>,
    #[prop(into)] describe: String,
    #[prop(into)] on_select: Callback<ChartClick>,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    draw::mount(id, chart, on_select);
    #[cfg(not(feature = "hydrate"))]
    let _ = (chart, on_select);
    view! { <div id=id class="chart" role="img" aria-label=describe data-chart=id></div> }
}

#[cfg(feature = "hydrate")]
mod draw {
    use super::*;
    use charming::{Echarts, WasmRenderer};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    fn call(target: &JsValue, method: &str, args: &[JsValue]) {
        let Ok(f) = js_sys::Reflect::get(target, &JsValue::from_str(method)) else {
            return;
        };
        let Some(f) = f.dyn_ref::<js_sys::Function>() else {
            return;
        };
        let arr = js_sys::Array::new();
        for a in args {
            arr.push(a);
        }
        let _ = f.apply(target, &arr);
    }

    fn text(v: &JsValue, key: &str) -> Option<String> {
        js_sys::Reflect::get(v, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    }

    pub fn mount(id: &'static str, chart: Signal<Chart>, on_select: Callback<ChartClick>) {
        let handle = StoredValue::new_local(None::<Echarts>);
        let listeners = StoredValue::new_local(Vec::<Closure<dyn Fn(JsValue)>>::new());
        Effect::new(move |_| {
            let c = chart.get();
            let fresh = handle.with_value(|h| h.is_none());
            if fresh {
                let Ok(e) = WasmRenderer::new_opt(None, None).render(id, &c) else {
                    return;
                };
                let click = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
                    on_select.run(ChartClick {
                        series_id: text(&p, "seriesId"),
                        name: text(&p, "name"),
                    })
                });
                let legend = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
                    on_select.run(ChartClick {
                        series_id: None,
                        name: text(&p, "name"),
                    })
                });
                call(
                    &e,
                    "on",
                    &[JsValue::from_str("click"), click.as_ref().clone()],
                );
                call(
                    &e,
                    "on",
                    &[
                        JsValue::from_str("legendselectchanged"),
                        legend.as_ref().clone(),
                    ],
                );
                listeners.update_value(|l| l.extend([click, legend]));
                handle.set_value(Some(e));
            } else {
                handle.with_value(|h| {
                    if let Some(e) = h {
                        // Replace, not merge, so that removed series disappear.
                        let option = serde_wasm_bindgen_value(&c);
                        call(e, "setOption", &[option, JsValue::TRUE]);
                    }
                });
            }
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            handle.with_value(|h| {
                if let Some(e) = h {
                    call(e, "resize", &[]);
                }
            })
        });
        on_cleanup(move || {
            resize.remove();
            handle.with_value(|h| {
                if let Some(e) = h {
                    call(e, "dispose", &[]);
                }
            });
        });
    }

    fn serde_wasm_bindgen_value(c: &Chart) -> JsValue {
        // charming's own serialisation (JSON → JS object).
        let json = serde_json::to_string(c).unwrap_or_default();
        js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL)
    }
}
