//! Every answer of the API that a test receives is checked against the
//! OpenAPI document the server serves: its status must be documented for
//! the route, and a JSON body must match the documented schema exactly (no
//! field missing, none extra, every type as documented). A drift between
//! the handlers' types and the document fails the test that met it.

use std::sync::OnceLock;

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};

static DOCUMENT: OnceLock<Value> = OnceLock::new();

/// The served document, fetched once per test binary.
pub fn document() -> Option<&'static Value> {
    DOCUMENT.get()
}

/// Keeps the served document (the first fetch wins; they are all equal).
pub fn remember(doc: Value) {
    let _ = DOCUMENT.set(doc);
}

/// The document's template for a concrete path (`/api/v1/workspaces/{workspace_id}`).
fn template_of<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|t| {
            let tparts: Vec<&str> = t.split('/').collect();
            tparts.len() == parts.len()
                && tparts.iter().zip(&parts).all(|(t, p)| {
                    (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p
                })
        })
}

/// Objects with properties admit no others: a field the document does
/// not name is a drift too.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in m.iter_mut() {
                strict(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Checks one answer; panics with what differs.
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &str) {
    if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/openapi.json") {
        return;
    }
    let Some(doc) = document() else {
        panic!("the served OpenAPI document was not fetched before {method} {path}");
    };
    let Some(template) = template_of(doc, path) else {
        // Not a route of the document: the API's 404, in its error shape.
        if status == StatusCode::NOT_FOUND || status == StatusCode::UNAUTHORIZED {
            check_schema(
                doc,
                &json!({"$ref": "#/components/schemas/ErrorBody"}),
                body,
                method,
                path,
                status,
            );
            return;
        }
        panic!("{method} {path} answered {status} outside every documented path");
    };
    let op = &doc["paths"][template][method.as_str().to_ascii_lowercase()];
    if op.is_null() {
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {template} is not documented yet answered {status}"
        );
        return;
    }
    let Some(response) = op["responses"].get(status.as_str()) else {
        panic!(
            "{method} {template} answered {status}, which its documentation does not list: {body}"
        );
    };
    let Some(content) = response["content"].as_object() else {
        return;
    };
    let given = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(media) = content.get("application/json") {
        assert!(
            given.starts_with("application/json"),
            "{method} {template} {status}: content type {given:?}, documented application/json"
        );
        check_schema(doc, &media["schema"], body, method, path, status);
    } else {
        let documented: Vec<&String> = content.keys().collect();
        assert!(
            documented.iter().any(|c| given.starts_with(c.as_str())),
            "{method} {template} {status}: content type {given:?}, documented {documented:?}"
        );
    }
}

fn check_schema(
    doc: &Value,
    schema: &Value,
    body: &str,
    method: &Method,
    path: &str,
    status: StatusCode,
) {
    let instance: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => panic!("{method} {path} {status}: the body is not JSON ({e}): {body}"),
    };
    let mut root = Map::new();
    root.insert("$ref".into(), json!("#/$defs/answer"));
    root.insert("$defs".into(), json!({ "answer": schema }));
    root.insert("components".into(), doc["components"].clone());
    let mut root = Value::Object(root);
    strict(&mut root);
    let validator = match jsonschema::draft202012::new(&root) {
        Ok(v) => v,
        Err(e) => {
            panic!("the document's schema for {method} {path} {status} does not compile: {e}")
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the answer differs from its documented schema:\n  {}\nbody: {body}",
        errors.join("\n  ")
    );
}
