//! The charts' browser half: each box the server rendered
//! (`ui/server/chart.rs`) is drawn once the tab's body is in the document,
//! following the theme and the box's own width. A click on a segment,
//! slice or legend entry drills down: it moves to the tab with the
//! chart's filter set to what was clicked.
//!
//! The browser parses the options' JSON text and hands it to ECharts, and
//! in the dark theme merges the dark overlay over them. A chart is only
//! created once its box is in the document and has a width: an ECharts
//! instance made on a detached (zero-width) box stays blank.

use leptos::prelude::*;

/// Whether the page is in the dark theme.
pub fn dark_theme() -> bool {
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

/// Whether the page is in the dark theme, followed as the platform
/// changes it (after hydration; the server renders in the light theme).
pub fn use_dark_theme() -> Signal<bool> {
    let dark = RwSignal::new(false);
    let theme = use_context::<crate::ui::nav::ThemeVersion>();
    Effect::new(move |_| {
        if let Some(t) = theme {
            t.0.track();
        }
        dark.set(dark_theme());
    });
    dark.into()
}

pub use draw::Charts;

mod draw {
    use std::cell::RefCell;
    use std::rc::Rc;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::ui::location::Location;
    use crate::ui::markup::{keys, CHART_BOX, CHART_DRAWN, CHART_OPTIONS};
    use leptos::prelude::document;

    /// Frames to wait for the box to be laid out and the chart library to
    /// arrive (about 15 s: it loads on demand, over a slow network too).
    const MAX_WAIT_FRAMES: u32 = 900;

    /// Adds the chart library's script (its address is in the page's
    /// `credits-echarts` meta tag) unless a page already has it.
    fn load_echarts() {
        let doc = document();
        let has = |sel: &str| doc.query_selector(sel).ok().flatten().is_some();
        if has("script[data-echarts]") || has("script[src*='echarts']") {
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

    fn get(v: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    fn text(v: &JsValue, key: &str) -> Option<String> {
        get(v, key).as_string()
    }

    /// The global `echarts`, once its script has run.
    fn echarts() -> Option<JsValue> {
        let e = get(&web_sys::window()?.into(), "echarts");
        (!e.is_undefined() && !e.is_null()).then_some(e)
    }

    /// One chart's live state in the browser.
    #[derive(Default)]
    struct Live {
        instance: Option<JsValue>,
        listeners: Vec<Closure<dyn Fn(JsValue)>>,
        observer: Option<web_sys::ResizeObserver>,
        on_resize: Option<Closure<dyn Fn()>>,
        disposed: bool,
    }

    impl Live {
        fn dispose(&mut self) {
            self.disposed = true;
            if let Some(o) = self.observer.take() {
                o.disconnect();
            }
            if let Some(e) = self.instance.take() {
                call(&e, "dispose", &[]);
            }
            self.listeners.clear();
            self.on_resize = None;
        }
    }

    type Shared = Rc<RefCell<Live>>;

    /// The charts of one tab body. Dropped (with the body's owner), it
    /// disposes their ECharts instances.
    #[derive(Default)]
    pub struct Charts(RefCell<Vec<Shared>>);

    impl Drop for Charts {
        fn drop(&mut self) {
            self.clear();
        }
    }

    impl Charts {
        fn clear(&self) {
            for live in self.0.borrow_mut().drain(..) {
                live.borrow_mut().dispose();
            }
        }

        /// Draws every chart box under `root` anew, in the given theme.
        pub fn draw_all(&self, root: &web_sys::Element, dark: bool, location: Location) {
            self.clear();
            let Ok(boxes) = root.query_selector_all(&format!("[{CHART_BOX}]")) else {
                return;
            };
            for i in 0..boxes.length() {
                let Some(el) = boxes
                    .item(i)
                    .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                else {
                    continue;
                };
                let json = el
                    .next_element_sibling()
                    .filter(|s| s.has_attribute(CHART_OPTIONS))
                    .and_then(|s| s.text_content())
                    .and_then(|t| js_sys::JSON::parse(t.as_str()).ok())
                    .filter(|v| v.is_object());
                let Some(json) = json else {
                    leptos::logging::warn!("unreadable chart options; chart not drawn");
                    continue;
                };
                let overlay = dark
                    .then(|| get(&json, keys::DARK))
                    .filter(|o| o.is_object());
                let live = Shared::default();
                self.0.borrow_mut().push(live.clone());
                draw(
                    live,
                    el,
                    (get(&json, keys::LIGHT), overlay),
                    get(&json, keys::DRILL),
                    location,
                    0,
                );
            }
        }
    }

    /// Where a click on a chart leads: its filter set to the clicked key.
    fn drill_down(
        drill: &JsValue,
        location: Location,
        series_id: Option<String>,
        name: Option<String>,
    ) {
        let Some(param) = text(drill, keys::PARAM) else {
            return;
        };
        let by_series = get(drill, keys::SERIES).as_bool() == Some(true);
        let key = series_id
            .filter(|_| by_series)
            .or_else(|| name.and_then(|n| text(&get(drill, keys::NAMES), &n)));
        if let Some(key) = key {
            let url = location.url_untracked();
            location.navigate(&url.params().href_with(&url.path, &[(&param, Some(&key))]));
        }
    }

    /// Draws the options once the box is ready, else tries on a later frame.
    fn draw(
        live: Shared,
        el: web_sys::Element,
        options: (JsValue, Option<JsValue>),
        drill: JsValue,
        location: Location,
        frame: u32,
    ) {
        if live.borrow().disposed {
            return;
        }
        let ready = el.is_connected() && el.client_width() > 0;
        let lib = echarts();
        if lib.is_none() {
            load_echarts();
        }
        let (true, Some(lib)) = (ready, lib) else {
            // Not laid out yet, or the chart script still loading.
            if frame >= MAX_WAIT_FRAMES {
                leptos::logging::warn!("chart box never became visible; chart not drawn");
                return;
            }
            let retry =
                Closure::once_into_js(move || draw(live, el, options, drill, location, frame + 1));
            if let Some(w) = web_sys::window() {
                let _ = w.request_animation_frame(retry.unchecked_ref());
            }
            return;
        };
        // The box says `data-drawn="true"` once ECharts reports the
        // drawing (and its animation) finished.
        let _ = el.set_attribute(CHART_DRAWN, "false");
        let Some(instance) = call(&lib, "init", &[el.clone().into()]) else {
            return;
        };
        let on_click = drill.clone();
        let click = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
            drill_down(&on_click, location, text(&p, "seriesId"), text(&p, "name"))
        });
        let legend = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
            drill_down(&drill, location, None, text(&p, "name"))
        });
        let drawn_box = el.clone();
        let finished = Closure::<dyn Fn(JsValue)>::new(move |_: JsValue| {
            let _ = drawn_box.set_attribute(CHART_DRAWN, "true");
        });
        call(
            &instance,
            "on",
            &["finished".into(), finished.as_ref().clone()],
        );
        let (option, overlay) = options;
        call(&instance, "setOption", &[option, JsValue::TRUE]);
        if let Some(overlay) = overlay {
            call(&instance, "setOption", &[overlay]);
        }
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
        let observer = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
        if let Some(o) = &observer {
            o.observe(&el);
        }
        let mut l = live.borrow_mut();
        l.instance = Some(instance);
        l.listeners = vec![click, legend, finished];
        l.observer = observer;
        l.on_resize = Some(on_resize);
    }
}
