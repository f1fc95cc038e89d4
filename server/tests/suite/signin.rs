//! Sign-in, sessions, tenant isolation and the framing policy, through the
//! real router on SQLite and PostgreSQL.

use crate::common::tokens::{claims, jwt};
use crate::common::{TestApp, EMBED_SECRET, TOKEN};
use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::json;

/// Two workspaces: `acme` (seed_basic) and `globex` with its own user.
async fn two_workspaces(app: &TestApp) {
    app.seed_basic().await;
    let mut body = crate::common::workspace_body(3_000);
    body["name"] = json!("Globex");
    let (s, _) = app.put("/api/v1/workspaces/globex", body).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .put(
            "/api/v1/workspaces/globex/users/u_hank",
            json!({"name": "Hank Scorpio", "email": "hank@globex.test", "role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn token_faults_are_401_without_data(app: &TestApp) {
    two_workspaces(app).await;
    let now = Utc::now().timestamp();
    let faults = [
        (
            "bad signature",
            jwt(claims("u_mikaela", "acme", 300), "wrong-secret"),
        ),
        (
            "wrong audience",
            jwt(
                json!({"sub": "u_mikaela", "ws": "acme", "aud": "billing", "exp": now + 300}),
                EMBED_SECRET,
            ),
        ),
        (
            "expired",
            jwt(claims("u_mikaela", "acme", -120), EMBED_SECRET),
        ),
        (
            "too long",
            jwt(claims("u_mikaela", "acme", 3_600), EMBED_SECRET),
        ),
        (
            "unknown user",
            jwt(claims("u_nobody", "acme", 300), EMBED_SECRET),
        ),
        (
            "unknown workspace",
            jwt(claims("u_mikaela", "initech", 300), EMBED_SECRET),
        ),
        (
            "user of another workspace",
            jwt(claims("u_hank", "acme", 300), EMBED_SECRET),
        ),
        ("not a token", "garbage".to_string()),
    ];
    for (what, token) in faults {
        for entry in ["/embed", "/auth/handoff"] {
            let (s, headers, body) = app
                .request(
                    Method::GET,
                    &format!("{entry}?token={token}&next=/usage/plan"),
                    &[],
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} at {entry}");
            assert!(
                body.contains("Your session expired — reopen it from the platform"),
                "{what}"
            );
            assert!(
                !body.contains("Acme") && !body.contains("10,000"),
                "{what}: no data"
            );
            assert!(headers.get("set-cookie").is_none(), "{what}: no session");
        }
    }
    // No session at all: pages and server functions are refused.
    let (s, _, _) = app.request(Method::GET, "/usage/credits", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = app
        .request(
            Method::POST,
            "/rpc/overview",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(String::new()),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn handoff_opens_a_standalone_session(app: &TestApp) {
    two_workspaces(app).await;
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (s, headers, _) = app
        .request(
            Method::GET,
            &format!("/auth/handoff?token={token}&next=/usage/credits?period=last_week"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/usage/credits?period=last_week");
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default().to_string();
    let (s, _, html) = app
        .request(
            Method::GET,
            "/usage/credits?period=last_week",
            &[("cookie", &pair)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Acme"), "the session's workspace");
    // X-Forwarded-Proto from no trusted proxy (here: no socket at all) is
    // ignored: the cookie is not marked Secure on its word (a trusted
    // proxy's is believed: `forwarded_proto_only_from_trusted_proxies`).
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (_, headers, _) = app
        .request(
            Method::GET,
            &format!("/auth/handoff?token={token}"),
            &[("x-forwarded-proto", "https")],
            None,
        )
        .await;
    assert!(!headers["set-cookie"]
        .to_str()
        .unwrap_or_default()
        .contains("Secure"));
    assert_eq!(
        headers["location"], "/usage/plan",
        "next defaults to the Plan tab"
    );
    // An open redirect is not possible.
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (_, headers, _) = app
        .request(
            Method::GET,
            &format!("/auth/handoff?token={token}&next=https://evil.test/"),
            &[],
            None,
        )
        .await;
    assert_eq!(headers["location"], "/usage/plan");
}

async fn embed_works_without_cookies(app: &TestApp) {
    two_workspaces(app).await;
    let token = jwt(
        json!({"sub": "u_mikaela", "ws": "acme", "aud": "credits", "exp": Utc::now().timestamp() + 300, "theme": "dark",
               "jti": credits_server::auth::new_session_token()}),
        EMBED_SECRET,
    );
    let (s, headers, html) = app
        .request(
            Method::GET,
            &format!("/embed?token={token}&next=/usage/credits"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap_or_default()
        .contains("Partitioned"));
    assert!(html.contains(r#"data-theme="dark""#));
    assert!(html.contains("history.replaceState(null, '', \"/embed/usage/credits\")"));
    assert!(
        html.contains(r#"href="/embed/usage/conversations""#),
        "tabs stay on the embed routes"
    );
    let session = html
        .split(r#"<meta name="credits-session" content=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(!session.is_empty(), "the page carries its session");
    // The header alone (no cookie) keeps the session, for pages and server functions.
    let (s, _, html) = app
        .request(
            Method::GET,
            "/embed/usage/plan",
            &[("x-credits-session", &session)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Growth"));
    let (s, _, body) = app
        .request(
            Method::POST,
            "/rpc/overview",
            &[
                ("x-credits-session", &session),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(String::new()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("\"workspace_id\":\"acme\""));
    // A tab's body is HTML whose links stay on the routes the page is on.
    for (args, prefix) in [
        ("&embedded=true", "/embed/usage/credits"),
        ("", "/usage/credits"),
    ] {
        let (s, _, body) = app
            .request(
                Method::POST,
                "/rpc/credits-view",
                &[
                    ("x-credits-session", &session),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some(format!("query=period%3Dlast_week{args}")),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let html: String = serde_json::from_str(&body).unwrap_or_default();
        assert!(html.contains("data-testid=\"credits-total\""), "{html}");
        assert!(html.contains("data-chart-options=\"chart-actions\""));
        let links: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert!(links.len() > 5, "{links:?}");
        assert!(
            links.iter().all(|l| l.starts_with(prefix)),
            "{prefix}: {links:?}"
        );
    }
    // A fresh token renews the session.
    let fresh = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (s, _, body) = app
        .request(
            Method::POST,
            "/rpc/refresh-session",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!("token={fresh}")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let renewed: String = serde_json::from_str(&body).unwrap_or_default();
    let (s, _, _) = app
        .request(
            Method::GET,
            "/embed/usage/plan",
            &[("x-credits-session", &renewed)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = app
        .request(
            Method::POST,
            "/rpc/refresh-session",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("token=expired.or.bad".into()),
        )
        .await;
    assert_ne!(s, StatusCode::OK);
    // An embedded page without a session says so and tells the parent.
    let (s, _, html) = app
        .request(Method::GET, "/embed/usage/plan", &[], None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(html.contains("credits:session-expired") && html.contains("credits:token"));
}

async fn tenants_are_isolated(app: &TestApp) {
    two_workspaces(app).await;
    let (s, _) = app
        .post("/api/v1/workspaces/acme/usage-events", json!({"events": [{"id": "e1", "type": "credits", "occurred_at": "2026-11-03T09:15:00Z", "action": "enrich_email", "credits": 777, "user_id": "u_mikaela"}]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let globex = app.session_cookie("globex", "u_hank").await;
    for path in [
        "/usage/plan",
        "/usage/credits",
        "/usage/conversations",
        "/usage/credits?period=last_month",
    ] {
        let (s, _, html) = app
            .request(Method::GET, path, &[("cookie", &globex)], None)
            .await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(
            html.contains("Globex") && !html.contains("Acme") && !html.contains("Mikaela"),
            "{path} shows only Globex"
        );
        for key in ["workspace", "ws", "workspace_id"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let (s, _, _) = app
                .request(
                    Method::GET,
                    &format!("{path}{sep}{key}=acme"),
                    &[("cookie", &globex)],
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path} naming acme by {key}");
        }
    }
    // Server functions: the workspace is the session's whatever the arguments say.
    for (endpoint, body) in [
        ("/rpc/overview", String::new()),
        (
            "/rpc/credits-view",
            "query=period%3Dthis_month%26workspace%3Dacme%26user%3Du_mikaela".to_string(),
        ),
        (
            "/rpc/conversations-view",
            "query=period%3Dthis_month".to_string(),
        ),
    ] {
        let (s, _, text) = app
            .request(
                Method::POST,
                endpoint,
                &[
                    ("cookie", &globex),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{endpoint}: {text}");
        assert!(
            !text.contains("777")
                && !text.contains("u_mikaela\",\"name")
                && !text.contains("\"acme\""),
            "{endpoint}: {text}"
        );
        if endpoint != "/rpc/overview" {
            // A tab's body: HTML in a JSON string, without acme's people.
            let html: String = serde_json::from_str(&text).unwrap_or_default();
            assert!(
                html.contains("data-testid=\"change\""),
                "{endpoint}: {html}"
            );
            // Only globex's people are offered; what the query named is
            // only echoed back in its links and its note.
            assert!(html.contains("Hank Scorpio"), "{endpoint}: {html}");
            assert!(
                !html.contains("<option value=\"u_mikaela\""),
                "{endpoint}: {html}"
            );
            assert!(!html.contains("Mikaela"), "{endpoint}: {html}");
        }
    }
    let (s, _, _) = app
        .request(
            Method::POST,
            "/rpc/overview?workspace=acme",
            &[
                ("cookie", &globex),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(String::new()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, csv) = app
        .request(
            Method::GET,
            "/usage/credits.csv?period=this_month",
            &[("cookie", &globex)],
            None,
        )
        .await;
    assert!(!csv.contains("e1"), "CSV of the session's workspace only");
    // A session is not an API credential.
    let (s, _, _) = app
        .request(
            Method::GET,
            "/api/v1/workspaces/acme/summary",
            &[("cookie", &globex)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let _ = TOKEN;
}

async fn framing_and_security_headers(app: &TestApp) {
    two_workspaces(app).await;
    let cookie = app.session_cookie("acme", "u_mikaela").await;
    let (_, h, _) = app
        .request(Method::GET, "/usage/plan", &[("cookie", &cookie)], None)
        .await;
    let csp = h["content-security-policy"].to_str().unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self' 'nonce-"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.get("referrer-policy").is_some());
    assert!(h.get("strict-transport-security").is_none());
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (_, h, _) = app
        .request(Method::GET, &format!("/embed?token={token}"), &[], None)
        .await;
    let csp = h["content-security-policy"].to_str().unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors http://platform.test https://app.example.com"),
        "{csp}"
    );
    assert!(h.get("x-frame-options").is_none());
    let (_, h, _) = app
        .request(
            Method::GET,
            "/api/v1/openapi.json",
            &[("x-forwarded-proto", "https")],
            None,
        )
        .await;
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    // An untrusted X-Forwarded-Proto does not turn HSTS on.
    assert!(h.get("strict-transport-security").is_none());
}

/// Reflected injection on the expired page: `next` and the path reach a
/// script only as escaped JSON, and `next` is an allow-list.
async fn the_expired_page_reflects_nothing(app: &TestApp) {
    two_workspaces(app).await;
    let attack =
        "/usage/%3C/script%3E%3Cmeta%20http-equiv=refresh%20content=0;url=https:evil.example%3E";
    for path in [
        format!("/embed?next={attack}"),
        format!("/embed?token=bad&next={attack}"),
        "/embed/usage/credits?x=%3C/script%3E%3Cscript%3Ealert(1)%3C/script%3E".to_string(),
        "/usage/credits?x=%3C/script%3E%3Cb%3E".to_string(),
    ] {
        let (status, _, body) = app.request(Method::GET, &path, &[], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!body.contains("<meta http-equiv=refresh"), "{path}: {body}");
        assert!(!body.contains("</script><meta"), "{path}: {body}");
        assert!(
            !body.contains("<b>") && !body.contains("alert(1)</script>"),
            "{path}: {body}"
        );
    }
}

/// A hand-off token opens one session, once, on any process; a token
/// without an id opens none.
async fn a_token_is_used_once(app: &TestApp) {
    two_workspaces(app).await;
    let (second, second_store) = app.second_server().await;
    for entry in ["/auth/handoff", "/embed"] {
        let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
        let path = format!("{entry}?token={token}&next=/usage/plan");
        let (first, _, _) = app.request(Method::GET, &path, &[], None).await;
        assert!(
            first == StatusCode::SEE_OTHER || first == StatusCode::OK,
            "{entry}: {first}"
        );
        let (again, _, body) = app.request(Method::GET, &path, &[], None).await;
        assert_eq!(
            again,
            StatusCode::UNAUTHORIZED,
            "{entry}: replay on the same server"
        );
        assert!(
            body.contains("session expired") || body.contains("Your session expired"),
            "{body}"
        );
        // The other server shares what was used.
        use tower::ServiceExt;
        let req = axum::http::Request::get(&path)
            .body(axum::body::Body::empty())
            .expect("request");
        let res = second.clone().oneshot(req).await.expect("answer");
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{entry}: replay on another server"
        );
    }
    let mut no_id = claims("u_mikaela", "acme", 300);
    no_id.as_object_mut().map(|m| m.remove("jti"));
    let (s, _, _) = app
        .request(
            Method::GET,
            &format!(
                "/auth/handoff?token={}&next=/usage/plan",
                jwt(no_id, EMBED_SECRET)
            ),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    second_store.close().await;
}

/// Cross-site POSTs are refused; sessions end at logout and when the
/// platform's fresh token replaces them.
async fn csrf_logout_and_refresh_revoke(app: &TestApp) {
    two_workspaces(app).await;
    let cookie = app.session_cookie("acme", "u_mikaela").await;
    let post = |headers: Vec<(&'static str, String)>| async move {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.request(Method::POST, "/rpc/overview", &h, Some(String::new()))
            .await
    };
    let form = (
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    );
    let base = vec![
        form.clone(),
        ("cookie", cookie.clone()),
        ("host", "dash.test".to_string()),
    ];
    for (origin, expected) in [
        (Some("https://evil.example"), StatusCode::FORBIDDEN),
        (Some("null"), StatusCode::FORBIDDEN),
        (Some("http://dash.test"), StatusCode::OK),
        (Some("https://app.example.com"), StatusCode::OK),
    ] {
        let mut h = base.clone();
        if let Some(o) = origin {
            h.push(("origin", o.to_string()));
        }
        let (s, _, body) = post(h).await;
        assert_eq!(s, expected, "{origin:?}: {body}");
    }
    // Neither Origin nor Sec-Fetch-Site: not a page's call (sent past the
    // test harness, which speaks for the page).
    {
        use tower::ServiceExt;
        let req = axum::http::Request::post("/rpc/overview")
            .header("cookie", cookie.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "dash.test")
            .body(axum::body::Body::empty())
            .expect("request");
        let res = app.router.clone().oneshot(req).await.expect("answer");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let mut h = base.clone();
    h.push(("sec-fetch-site", "cross-site".to_string()));
    assert_eq!(post(h).await.0, StatusCode::FORBIDDEN);
    // Logout ends the session for every process and expires the cookie.
    let (s, headers, _) = app
        .request(
            Method::POST,
            "/auth/logout",
            &[("cookie", cookie.as_str())],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap_or("")
        .contains("Max-Age=0"));
    let (s, _, _) = post(base.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A refreshed embedded session revokes the one it replaces.
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (_, _, html) = app
        .request(
            Method::GET,
            &format!("/embed?token={token}&next=/usage/plan"),
            &[],
            None,
        )
        .await;
    let old = html
        .split(r#"<meta name="credits-session" content=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(!old.is_empty());
    let fresh = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (s, _, body) = app
        .request(
            Method::POST,
            "/rpc/refresh-session",
            &[form_header(), ("x-credits-session", old.as_str())],
            Some(format!("token={fresh}")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let renewed: String = serde_json::from_str(&body).unwrap_or_default();
    let with = |t: &str| {
        let t = t.to_string();
        async move {
            app.request(
                Method::POST,
                "/rpc/overview",
                &[form_header(), ("x-credits-session", t.as_str())],
                Some(String::new()),
            )
            .await
            .0
        }
    };
    assert_eq!(with(&renewed).await, StatusCode::OK);
    assert_eq!(
        with(&old).await,
        StatusCode::UNAUTHORIZED,
        "the replaced session is revoked"
    );
}

/// Over HTTPS the sessions' cookies carry `__Host-` names (Secure, no
/// Domain, Path=/): the standalone one and the embedded one; only those
/// names are read, so a cookie set for the plain name (by a sibling
/// subdomain, say) opens nothing; signing out expires the `__Host-` one.
async fn https_cookies_are_host_prefixed(app: &TestApp) {
    two_workspaces(app).await;
    let mut state = TestApp::state(app.store.clone(), crate::common::now());
    state.https = true;
    let router = credits_server::app(state);
    let call = |path: String, headers: Vec<(&'static str, String)>, post: bool| {
        let router = router.clone();
        async move {
            let mut req = axum::http::Request::builder()
                .method(if post { Method::POST } else { Method::GET })
                .uri(path);
            for (k, v) in &headers {
                req = req.header(*k, v);
            }
            let req = req.body(axum::body::Body::empty()).expect("request");
            let res = tower::ServiceExt::oneshot(router, req)
                .await
                .expect("answer");
            let status = res.status();
            let headers = res.headers().clone();
            let body = http_body_util::BodyExt::collect(res.into_body())
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).to_string())
                .unwrap_or_default();
            (status, headers, body)
        }
    };
    let set_cookie = |h: &axum::http::HeaderMap| {
        h.get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (s, headers, _) = call(format!("/auth/handoff?token={token}"), vec![], false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cookie = set_cookie(&headers);
    assert!(
        cookie.starts_with("__Host-credits_session=")
            && cookie.contains("; Path=/;")
            && cookie.contains("Secure")
            && !cookie.contains("Domain"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default().to_string();
    let (s, _, html) = call("/usage/plan".into(), vec![("cookie", pair.clone())], false).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Acme"));
    // The same token under the plain name is not read over HTTPS.
    let plain = pair.replacen("__Host-", "", 1);
    let (s, _, _) = call("/usage/plan".into(), vec![("cookie", plain)], false).await;
    assert_ne!(
        s,
        StatusCode::OK,
        "a plain-named cookie opened a page over HTTPS"
    );
    // Embedded: `__Host-`, so Path=/, and still partitioned.
    let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
    let (s, headers, _) = call(
        format!("/embed?token={token}&next=/usage/plan"),
        vec![],
        false,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let embed = set_cookie(&headers);
    assert!(
        embed.starts_with("__Host-credits_embed_session=")
            && embed.contains("; Path=/;")
            && embed.contains("Partitioned")
            && embed.contains("Secure"),
        "{embed}"
    );
    let embed_pair = embed.split(';').next().unwrap_or_default().to_string();
    let (s, _, _) = call(
        "/embed/usage/plan".into(),
        vec![("cookie", embed_pair.clone())],
        false,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "an embedded reload with its cookie");
    let (s, _, _) = call("/usage/plan".into(), vec![("cookie", embed_pair)], false).await;
    assert_ne!(
        s,
        StatusCode::OK,
        "the embedded cookie opens no standalone page"
    );
    // Signing out expires the `__Host-` cookie.
    let (_, headers, _) = call(
        "/auth/logout".into(),
        vec![
            ("cookie", pair.clone()),
            ("sec-fetch-site", "same-origin".into()),
        ],
        true,
    )
    .await;
    let gone = set_cookie(&headers);
    assert!(
        gone.starts_with("__Host-credits_session=;")
            && gone.contains("Max-Age=0")
            && gone.contains("Secure"),
        "{gone}"
    );
    let (s, _, _) = call("/usage/plan".into(), vec![("cookie", pair)], false).await;
    assert_ne!(s, StatusCode::OK, "the session ended");
}

/// The platform ends a user's sessions (`DELETE …/users/{id}/sessions`)
/// and removes a user (`DELETE …/users/{id}`): every session of theirs,
/// standalone and embedded, ends at once; a removed user's hand-off is
/// refused while their history stays in the reports; a `PUT` brings them
/// back.
async fn the_platform_ends_sessions_and_removes_users(app: &TestApp) {
    two_workspaces(app).await;
    let open = |embedded: bool| async move {
        let token = jwt(claims("u_mikaela", "acme", 300), EMBED_SECRET);
        let path = if embedded {
            format!("/embed?token={token}&next=/usage/plan")
        } else {
            format!("/auth/handoff?token={token}")
        };
        let (s, headers, _) = app.request(Method::GET, &path, &[], None).await;
        let pair = headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_string();
        (s, pair)
    };
    let page = |pair: String, path: &'static str| async move {
        app.request(Method::GET, path, &[("cookie", &pair)], None)
            .await
            .0
    };
    let (_, standalone) = open(false).await;
    let (_, embedded) = open(true).await;
    assert_eq!(
        page(standalone.clone(), "/usage/plan").await,
        StatusCode::OK
    );
    assert_eq!(
        page(embedded.clone(), "/embed/usage/plan").await,
        StatusCode::OK
    );
    // Another user's session is not touched.
    let hank = app.session_cookie("globex", "u_hank").await;

    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/workspaces/acme/users/u_mikaela/sessions",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_ne!(page(standalone, "/usage/plan").await, StatusCode::OK);
    assert_ne!(page(embedded, "/embed/usage/plan").await, StatusCode::OK);
    assert_eq!(page(hank.clone(), "/usage/plan").await, StatusCode::OK);
    // A new hand-off signs them in again.
    let (s, standalone) = open(false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        page(standalone.clone(), "/usage/plan").await,
        StatusCode::OK
    );

    let event = json!({"events": [{"id": "before-removal", "type": "credits",
        "occurred_at": "2026-11-24T09:00:00Z", "action": "enrich_email", "credits": 7,
        "user_id": "u_mikaela"}]});
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/workspaces/acme/usage-events",
            Some(event),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Removed: signed out, and no new sign-in.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/workspaces/acme/users/u_mikaela",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_ne!(page(standalone, "/usage/plan").await, StatusCode::OK);
    let (s, pair) = open(false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a removed user's hand-off");
    assert!(pair.is_empty(), "no session for a removed user: {pair}");
    // Their history stays, under their name.
    let (s, usage) = app
        .get("/api/v1/workspaces/acme/credit-usage?period=this_month&group_by=user")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        usage.to_string().contains("u_mikaela") && usage["total"] == 7,
        "{usage}"
    );
    // Again: still 204; unknown users and workspaces, or no token: refused.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/workspaces/acme/users/u_mikaela",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for path in [
        "/api/v1/workspaces/acme/users/u_nobody",
        "/api/v1/workspaces/nowhere/users/u_mikaela",
        "/api/v1/workspaces/acme/users/u_nobody/sessions",
    ] {
        assert_eq!(
            app.call(Method::DELETE, path, None).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (s, _) = app
        .call_raw(
            Method::DELETE,
            "/api/v1/workspaces/acme/users/u_hank",
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        page(hank, "/usage/plan").await,
        StatusCode::OK,
        "another workspace's user"
    );

    // Put again: back.
    let (s, _) = app
        .put(
            "/api/v1/workspaces/acme/users/u_mikaela",
            json!({"name": "Mikaela Ortiz", "email": "mikaela@acme.test", "role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, standalone) = open(false).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(page(standalone, "/usage/plan").await, StatusCode::OK);
}

/// A hand-off that would replace another person's session asks first:
/// the question names both and does not spend the token; its button
/// (a same-origin POST) switches, ending the old session; the same
/// person's hand-off does not ask.
async fn a_handoff_asks_before_replacing_another_session(app: &TestApp) {
    two_workspaces(app).await;
    let mikaela = app.session_cookie("acme", "u_mikaela").await;
    let token = jwt(claims("u_samara", "acme", 300), EMBED_SECRET);
    let (s, headers, html) = app
        .request(
            Method::GET,
            &format!("/auth/handoff?token={token}&next=/usage/credits"),
            &[("cookie", &mikaela)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        headers.get("set-cookie").is_none(),
        "nothing replaced by asking"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        html.contains("Switch who is signed in?")
            && html.contains("Mikaela Ortiz (Acme")
            && html.contains("Continue as Samara Haddad (Acme"),
        "{html}"
    );
    // Still Mikaela's.
    let (s, _, _) = app
        .request(Method::GET, "/usage/plan", &[("cookie", &mikaela)], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    // The button: from another site, refused; from the page, switched.
    let form = format!("token={token}&next=%2Fusage%2Fcredits");
    let (s, _, _) = app
        .request(
            Method::POST,
            "/auth/handoff",
            &[
                ("cookie", &mikaela),
                form_header(),
                ("origin", "https://evil.test"),
            ],
            Some(form.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, headers, _) = app
        .request(
            Method::POST,
            "/auth/handoff",
            &[
                ("cookie", &mikaela),
                form_header(),
                ("sec-fetch-site", "same-origin"),
            ],
            Some(form),
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/usage/credits");
    let samara = headers["set-cookie"]
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let (s, _, _) = app
        .request(Method::GET, "/usage/plan", &[("cookie", &samara)], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let value = samara.split_once('=').map(|(_, v)| v).unwrap_or_default();
    let session = app.store.session(value, Utc::now()).await.expect("lookup");
    assert_eq!(
        session.map(|s| s.user_id).as_deref(),
        Some("u_samara"),
        "the new session is Samara's"
    );
    let (s, _, _) = app
        .request(Method::GET, "/usage/plan", &[("cookie", &mikaela)], None)
        .await;
    assert_ne!(s, StatusCode::OK, "the replaced session ended");
    // The same person again: no question.
    let token = jwt(claims("u_samara", "acme", 300), EMBED_SECRET);
    let (s, _, _) = app
        .request(
            Method::GET,
            &format!("/auth/handoff?token={token}"),
            &[("cookie", &samara)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
}

fn form_header() -> (&'static str, &'static str) {
    ("content-type", "application/x-www-form-urlencoded")
}

on_both_engines!(
    csrf_logout_and_refresh_revoke,
    a_token_is_used_once,
    the_expired_page_reflects_nothing,
    token_faults_are_401_without_data,
    handoff_opens_a_standalone_session,
    https_cookies_are_host_prefixed,
    the_platform_ends_sessions_and_removes_users,
    a_handoff_asks_before_replacing_another_session,
    embed_works_without_cookies,
    tenants_are_isolated,
    framing_and_security_headers,
);
