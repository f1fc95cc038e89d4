//! The framing and content security policies, shared by the page shell
//! and the server's header middleware.

/// `frame-ancestors` for a response: the configured origins on embed
/// routes, `'none'` everywhere else.
pub fn frame_ancestors(origins: &[String], embed_route: bool) -> String {
    if embed_route && !origins.is_empty() {
        format!("frame-ancestors {}", origins.join(" "))
    } else {
        "frame-ancestors 'none'".to_string()
    }
}

/// The page policy; `nonce` allows Leptos's inline hydration script.
pub fn page_policy(nonce: Option<&str>, origins: &[String], embed_route: bool) -> String {
    let scripts = match nonce {
        Some(n) => format!("script-src 'self' 'nonce-{n}' 'wasm-unsafe-eval'"),
        None => "script-src 'self' 'wasm-unsafe-eval'".to_string(),
    };
    format!(
        "default-src 'self'; {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; {}",
        frame_ancestors(origins, embed_route)
    )
}

/// Whether a path may be framed by the platform.
pub fn is_embed_route(path: &str) -> bool {
    path == "/embed" || path.starts_with("/embed/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_embed_routes_are_framed() {
        let o = vec!["https://app.example.com".to_string()];
        assert_eq!(
            frame_ancestors(&o, true),
            "frame-ancestors https://app.example.com"
        );
        assert_eq!(frame_ancestors(&o, false), "frame-ancestors 'none'");
        assert_eq!(frame_ancestors(&[], true), "frame-ancestors 'none'");
        assert!(is_embed_route("/embed/usage/plan") && is_embed_route("/embed"));
        assert!(!is_embed_route("/embedded") && !is_embed_route("/usage/plan"));
        assert!(page_policy(Some("abc"), &o, true).contains("'nonce-abc'"));
    }
}
