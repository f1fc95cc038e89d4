//! The postMessage protocol with the platform, when the dashboard runs in
//! its iframe. Messages go only to, and are taken only from, the origins of
//! `CREDITS_EMBED_ORIGINS` (read from the page's meta tag).
//!
//! To the parent: `credits:ready`, `credits:resize {height}`,
//! `credits:navigate {path}`, `credits:open-chat {intent, message}`,
//! `credits:session-expired`. From the parent: `credits:theme {mode}`
//! (`light`, `dark` or `system`), `credits:token {token}` (a fresh hand-off
//! token: the session is renewed without a reload).

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(not(feature = "hydrate"))]
/// Tells the platform the session expired (in the browser only).
pub fn session_expired() {}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;

    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    thread_local! {
        static ORIGINS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn meta(name: &str) -> Option<String> {
        document()
            .query_selector(&format!("meta[name=\"{name}\"]"))
            .ok()
            .flatten()
            .and_then(|m| m.get_attribute("content"))
    }

    fn parent() -> Option<web_sys::Window> {
        let window = web_sys::window()?;
        let parent = window.parent().ok().flatten()?;
        (!js_sys::Object::is(&parent, &window)).then_some(parent)
    }

    /// Whether the page runs inside a frame.
    pub fn embedded() -> bool {
        parent().is_some()
    }

    /// Posts `{type, ...fields}` to the parent, at each allowed origin only.
    pub fn post(kind: &str, fields: &[(&str, JsValue)]) {
        let Some(parent) = parent() else { return };
        let msg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&msg, &"type".into(), &kind.into());
        for (k, v) in fields {
            let _ = js_sys::Reflect::set(&msg, &(*k).into(), v);
        }
        ORIGINS.with(|o| {
            for origin in o.borrow().iter() {
                let _ = parent.post_message(&msg, origin);
            }
        });
    }

    /// Tells the platform the session expired.
    pub fn session_expired() {
        post("credits:session-expired", &[]);
    }

    fn set_theme(mode: &str, version: RwSignal<u32>) {
        let Some(root) = document().document_element() else {
            return;
        };
        match mode {
            "light" | "dark" => {
                let _ = root.set_attribute("data-theme", mode);
            }
            _ => {
                let _ = root.remove_attribute("data-theme");
            }
        }
        version.update(|v| *v += 1);
    }

    /// Starts the protocol: reads the session token and origins from the
    /// page, says `credits:ready`, reports the height as it changes and
    /// listens to the parent. `theme` is bumped when the theme changes.
    pub fn start(theme: RwSignal<u32>) {
        crate::session_client::set_token(meta("credits-session"));
        crate::session_client::on_session_ended(session_expired);
        let origins: Vec<String> = meta("credits-embed-origins")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        ORIGINS.with(|o| *o.borrow_mut() = origins.clone());
        if !embedded() {
            return;
        }
        // Size the frame to the content, down as well as up. The document's
        // scroll height never drops below the frame's own height, so measure
        // the app's box instead: its bottom edge plus the body's margin.
        let report = Closure::<dyn Fn()>::new(move || {
            post(
                "credits:resize",
                &[("height", JsValue::from(content_height()))],
            );
        });
        if let Ok(observer) = web_sys::ResizeObserver::new(report.as_ref().unchecked_ref()) {
            if let Some(app) = document().query_selector(".app").ok().flatten() {
                observer.observe(&app);
            }
            if let Some(body) = document().body() {
                observer.observe(&body);
            }
            std::mem::forget(observer);
        }
        report.forget();
        let listener =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                if !origins.iter().any(|o| *o == e.origin()) {
                    return;
                }
                let data = e.data();
                let field = |k: &str| {
                    js_sys::Reflect::get(&data, &k.into())
                        .ok()
                        .and_then(|v| v.as_string())
                };
                match field("type").as_deref() {
                    Some("credits:theme") => set_theme(&field("mode").unwrap_or_default(), theme),
                    Some("credits:token") => {
                        if let Some(token) = field("token") {
                            leptos::task::spawn_local(async move {
                                match crate::rpc::refresh_session(token).await {
                                    Ok(session) => crate::session_client::set_token(Some(session)),
                                    Err(_) => session_expired(),
                                }
                            });
                        }
                    }
                    _ => {}
                }
            });
        if let Some(w) = web_sys::window() {
            let _ =
                w.add_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
        listener.forget();
        post("credits:ready", &[]);
    }

    /// The height the frame needs: the content's, not the frame's own.
    fn content_height() -> i32 {
        let doc = document();
        let scroll_y = web_sys::window()
            .and_then(|w| w.scroll_y().ok())
            .unwrap_or(0.0);
        let bottom = doc
            .query_selector(".app")
            .ok()
            .flatten()
            .or_else(|| doc.body().map(Into::into))
            .map(|e| e.get_bounding_client_rect().bottom() + scroll_y)
            .unwrap_or(0.0);
        bottom.ceil() as i32
    }

    /// Tells the platform the dashboard moved to `path` (for deep links).
    pub fn navigated(path: &str) {
        post("credits:navigate", &[("path", JsValue::from_str(path))]);
    }
}
