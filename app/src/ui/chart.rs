//! An ECharts chart, drawn after hydration in a box whose size is reserved
//! by CSS (no layout shift), following the theme and the box's own width.
//! Clicking a segment, slice or legend entry reports the series id and the
//! item's name.
//!
//! The options are built on the server (see [`crate::charts::options`]):
//! the browser parses their JSON text and hands it to ECharts, and in the
//! dark theme merges the dark overlay over them.
//!
//! The box is found through a node reference, not by id, and the chart is
//! only created once the box is in the document and has a width: after a
//! client-side navigation the tab's view is built before it is attached,
//! and an ECharts instance made on a detached (zero-width) box stays blank.

use leptos::prelude::*;

use crate::model::ChartOptions;

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

/// Whether the page is in the dark theme, followed as the platform
/// changes it (after hydration; the server renders in the light theme).
pub fn use_dark_theme() -> Signal<bool> {
    let dark = RwSignal::new(false);
    let theme = use_context::<super::nav::ThemeVersion>();
    Effect::new(move |_| {
        if let Some(t) = theme {
            t.0.track();
        }
        dark.set(dark_theme());
    });
    dark.into()
}

/// A chart box; `describe` is its text alternative.
#[component]
pub fn EChart(
    id: &'static str,
    options: ChartOptions,
    #[prop(into)] dark: Signal<bool>,
    #[prop(into)] describe: String,
    #[prop(into)] on_select: Callback<ChartClick>,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    draw::mount(node, options, dark, on_select);
    #[cfg(not(feature = "hydrate"))]
    let _ = (options, dark, on_select);
    view! { <div id=id node_ref=node class="chart" role="img" aria-label=describe data-chart=id></div> }
}

#[cfg(feature = "hydrate")]
mod draw {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    /// Frames to wait for the box to be laid out and the chart library to
    /// arrive (about 15 s: it loads on demand, over a slow network too).
    const MAX_WAIT_FRAMES: u32 = 900;

    /// Adds the chart library's script (its address is in the page's
    /// `credits-echarts` meta tag) unless a page already has it.
    fn load_echarts() {
        let doc = document();
        if doc
            .query_selector("script[data-echarts]")
            .ok()
            .flatten()
            .is_some()
            || doc
                .query_selector("script[src*='echarts']")
                .ok()
                .flatten()
                .is_some()
        {
            return;
        }
        let src = doc
            .query_selector("meta[name=\"credits-echarts\"]")
            .ok()
            .flatten()
            .and_then(|m| m.get_attribute("content"))
            .unwrap_or_else(|| "/pkg/echarts.min.js".into());
        if let Ok(script) = doc.create_element("script") {
            let _ = script.set_attribute("src", &src);
            let _ = script.set_attribute("data-echarts", "");
            if let Some(head) = doc.head() {
                let _ = head.append_child(&script);
            }
        }
    }

    fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
        let f = js_sys::Reflect::get(target, &JsValue::from_str(method)).ok()?;
        let f = f.dyn_ref::<js_sys::Function>()?;
        let arr = js_sys::Array::new();
        for a in args {
            arr.push(a);
        }
        f.apply(target, &arr).ok()
    }

    fn text(v: &JsValue, key: &str) -> Option<String> {
        js_sys::Reflect::get(v, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    }

    /// The global `echarts`, once its (deferred) script has run.
    fn echarts() -> Option<JsValue> {
        let w = web_sys::window()?;
        let e = js_sys::Reflect::get(&w, &JsValue::from_str("echarts")).ok()?;
        (!e.is_undefined() && !e.is_null()).then_some(e)
    }

    fn parse(json: &str) -> Option<JsValue> {
        js_sys::JSON::parse(json).ok().filter(|v| v.is_object())
    }

    /// What to draw: the options, and the overlay merged over them.
    type Pending = (JsValue, Option<JsValue>);

    /// One chart's live state in the browser.
    #[derive(Default)]
    struct Live {
        instance: Option<JsValue>,
        /// The box the instance was made on (a new box needs a new instance).
        element: Option<web_sys::Element>,
        listeners: Vec<Closure<dyn Fn(JsValue)>>,
        observer: Option<web_sys::ResizeObserver>,
        on_resize: Option<Closure<dyn Fn()>>,
        /// The latest options, drawn when the box is ready.
        pending: Option<Pending>,
        disposed: bool,
    }

    impl Live {
        fn dispose(&mut self) {
            if let Some(o) = self.observer.take() {
                o.disconnect();
            }
            if let Some(e) = self.instance.take() {
                call(&e, "dispose", &[]);
            }
            self.element = None;
            self.listeners.clear();
            self.on_resize = None;
        }
    }

    type Shared = Rc<RefCell<Live>>;

    /// Owns a chart's state for the component's lifetime: dropped with the
    /// component's owner, it disposes the ECharts instance.
    struct Guard(Shared, Rc<Cell<bool>>);

    impl Drop for Guard {
        fn drop(&mut self) {
            let mut l = self.0.borrow_mut();
            l.disposed = true;
            l.dispose();
        }
    }

    pub fn mount(
        node: NodeRef<leptos::html::Div>,
        options: ChartOptions,
        dark: Signal<bool>,
        on_select: Callback<ChartClick>,
    ) {
        let cell = StoredValue::new_local(Guard(Rc::default(), Rc::new(Cell::new(false))));
        let Some(light) = parse(&options.light) else {
            leptos::logging::warn!("unreadable chart options; chart not drawn");
            return;
        };
        let overlay = parse(&options.dark);
        Effect::new(move |_| {
            let option = (light.clone(), dark.get().then(|| overlay.clone()).flatten());
            let Some(el) = node.get() else { return };
            let Some((live, waiting)) = cell.try_with_value(|g| (g.0.clone(), g.1.clone())) else {
                return;
            };
            live.borrow_mut().pending = Some(option);
            draw(live, waiting, el.into(), on_select, 0);
        });
    }

    /// Draws the pending options, now if the box is ready, else on a later frame.
    fn draw(
        live: Shared,
        waiting: Rc<Cell<bool>>,
        el: web_sys::Element,
        on_select: Callback<ChartClick>,
        frame: u32,
    ) {
        if live.borrow().disposed {
            return;
        }
        let same_box = live
            .borrow()
            .element
            .as_ref()
            .is_some_and(|e| js_sys::Object::is(e, &el));
        if !same_box {
            live.borrow_mut().dispose();
        }
        let ready = el.is_connected() && el.client_width() > 0;
        let lib = echarts();
        if lib.is_none() {
            load_echarts();
        }
        let (true, Some(lib)) = (ready, lib) else {
            // Not attached or laid out yet (a client-side navigation), or
            // the chart script still loading: try again next frame.
            if frame == 0 && waiting.get() {
                return; // a retry loop is already running and will draw the latest options
            }
            if frame >= MAX_WAIT_FRAMES {
                waiting.set(false);
                leptos::logging::warn!("chart box never became visible; chart not drawn");
                return;
            }
            waiting.set(true);
            let retry =
                Closure::once_into_js(move || draw(live, waiting, el, on_select, frame + 1));
            if let Some(w) = web_sys::window() {
                let _ = w.request_animation_frame(retry.unchecked_ref());
            }
            return;
        };
        waiting.set(false);
        let Some((option, overlay)) = live.borrow_mut().pending.take() else {
            return;
        };
        // Replace, not merge, so that removed series disappear; then merge
        // the theme's overlay. The box says `data-drawn="true"` once ECharts
        // reports the drawing (and its animation) finished.
        let _ = el.set_attribute("data-drawn", "false");
        let set = |instance: &JsValue| {
            call(instance, "setOption", &[option, JsValue::TRUE]);
            if let Some(overlay) = overlay {
                call(instance, "setOption", &[overlay]);
            }
        };
        let existing = live.borrow().instance.clone();
        match existing {
            Some(instance) => set(&instance),
            None => {
                let Some(instance) = call(&lib, "init", &[el.clone().into()]) else {
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
                let drawn_box = el.clone();
                let finished = Closure::<dyn Fn(JsValue)>::new(move |_: JsValue| {
                    let _ = drawn_box.set_attribute("data-drawn", "true");
                });
                call(
                    &instance,
                    "on",
                    &["finished".into(), finished.as_ref().clone()],
                );
                set(&instance);
                call(&instance, "on", &["click".into(), click.as_ref().clone()]);
                call(
                    &instance,
                    "on",
                    &["legendselectchanged".into(), legend.as_ref().clone()],
                );
                // Follow the box's own width (window resizes, the iframe, the sidebar).
                let target = instance.clone();
                let on_resize = Closure::<dyn Fn()>::new(move || {
                    call(&target, "resize", &[]);
                });
                let observer =
                    web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
                if let Some(o) = &observer {
                    o.observe(&el);
                }
                let mut l = live.borrow_mut();
                l.instance = Some(instance);
                l.element = Some(el);
                l.listeners = vec![click, legend, finished];
                l.observer = observer;
                l.on_resize = Some(on_resize);
            }
        }
    }
}
