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

/// JSON for inside a `<script>`: `<`, `>`, `&` and U+2028/9 escaped as
/// `\u003c`..., so that no value can close the script or open a comment.
pub fn script_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    script_text(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

/// JSON text made safe inside a `<script>` element, as [`script_json`]
/// writes it (the escapes are JSON's own, so the value is unchanged).
pub fn script_text(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The dashboard addresses a sign-in may go on to: a tab under `/usage`
/// with a query of plain characters; anything else is `/usage/plan`.
pub fn safe_next(next: Option<&str>) -> String {
    const TABS: [&str; 4] = [
        "/usage",
        "/usage/plan",
        "/usage/credits",
        "/usage/conversations",
    ];
    let Some(n) = next.filter(|n| n.len() <= 2_000) else {
        return "/usage/plan".to_string();
    };
    let (path, query) = match n.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (n, None),
    };
    let plain = |q: &str| {
        q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.~%=&:+-,".contains(&b))
    };
    if TABS.contains(&path) && query.is_none_or(plain) {
        n.to_string()
    } else {
        "/usage/plan".to_string()
    }
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

    #[test]
    fn json_in_a_script_cannot_close_it() {
        let attack =
            "/usage/</script><meta http-equiv=refresh content=0;url=https:evil.example>&\u{2028}";
        let out = script_json(attack);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        assert!(!out.contains('\u{2028}'));
        let back: String = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(back, attack);
    }

    #[test]
    fn next_is_a_tab_with_a_plain_query() {
        assert_eq!(
            safe_next(Some("/usage/credits?period=last_week&user=u_1")),
            "/usage/credits?period=last_week&user=u_1"
        );
        assert_eq!(safe_next(Some("/usage")), "/usage");
        for bad in [
            "/usage/</script><meta http-equiv=refresh content=0;url=https:evil.example>",
            "https://evil.test/",
            "//evil.test",
            "/usage/../admin",
            "/usage/credits?x=<b>",
            "/usage/credits?x=\"y",
            "/usagex",
            "/usage/plan/extra",
            "/usage/credits?a=1#frag",
        ] {
            assert_eq!(safe_next(Some(bad)), "/usage/plan", "{bad}");
        }
        assert_eq!(safe_next(None), "/usage/plan");
    }
}
