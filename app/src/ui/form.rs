//! Forms that post to a server function: a plain `<form>` without
//! JavaScript, and a dispatched action once hydrated.
//!
//! Leptos's `ActionForm` does the same, but turns the form into the
//! function's arguments through a query string and `serde_qs`'s
//! deserializer, which is code the browser's bundle needs for nothing
//! else. Here each form reads its fields by name ([`Submitted`]) and builds
//! the arguments itself; the server reads a plain post as before.

use leptos::ev::SubmitEvent;

/// The fields of a submitted form, read by name.
pub struct Submitted {
    #[cfg(feature = "hydrate")]
    data: Option<web_sys::FormData>,
}

impl Submitted {
    /// Stops the browser's own post (the action posts instead) and reads
    /// the form's fields as they are now.
    pub fn take(ev: &SubmitEvent) -> Self {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let data = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                .and_then(|form| web_sys::FormData::new_with_form(&form).ok());
            Self { data }
        }
        #[cfg(not(feature = "hydrate"))]
        Self {}
    }

    /// The value of the field `name`, or `None` where the form does not
    /// send it (an unchecked box), as a plain post would.
    pub fn get(&self, name: &str) -> Option<String> {
        #[cfg(feature = "hydrate")]
        {
            self.data.as_ref()?.get(name).as_string()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = name;
            None
        }
    }
}
