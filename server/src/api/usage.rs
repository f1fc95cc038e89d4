//! Credit grants, usage-event batches and charges.

use super::common::*;

/// `POST /workspaces/{ws}/credit-grants`: add-on or rollover credits for the current cycle.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/credit-grants", tag = "credits",
    params(("workspace_id" = String, Path)),
    request_body = schema::GrantBody,
    responses((status = 201, description = "Granted", body = GrantOut),
              (status = 200, description = "The same grant again: the first body", body = GrantOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "Same id, other body", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_grant(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<GrantOut>)> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let mut c = Checker::default();
    let grant = c.object(&value, "").and_then(|m| {
        let id = c.id(Field::required(m, "id"));
        let kind = c.choice(Field::required(m, "kind"), &["add_on", "rollover"]);
        let credits = c.integer(Field::required(m, "credits"), AtLeast::ONE);
        let note = c.text(Field::optional(m, "note"), MaxChars::NOTE);
        let price = if m.get("price").is_some_and(|p| !p.is_null()) {
            c.price(Field::optional(m, "price"))
        } else {
            None
        };
        Some(GrantInput {
            id: id?,
            kind: kind?,
            credits: credits?,
            note,
            price,
            request: canonical(&value),
        })
    });
    let grant = checked(c, grant)?;
    let (created, body) = state
        .store
        .create_grant(&ws, &grant, state.now(), grant_body)
        .await?;
    Ok((status_of(created), Json(stored_answer(body)?)))
}

/// Reads one credits event or charge: action, credits, user and optional
/// campaign and identity, all known in the workspace.
fn read_spend(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    known: &Names,
) -> Option<(Action, i64, String)> {
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let action = match m.get("action") {
        None | Some(Value::Null) => {
            c.fail(path("action"), "is required");
            None
        }
        Some(v) => match v.as_str().and_then(Action::parse) {
            Some(a) => Some(a),
            None => {
                c.fail(
                    path("action"),
                    format!("must be one of: {}", Action::valid_keys()),
                );
                None
            }
        },
    };
    let credits = c.integer(Field::required(m, "credits").under(prefix), AtLeast::ONE);
    let user = c
        .id(Field::required(m, "user_id").under(prefix))
        .and_then(|u| {
            if known.has_user(&u) {
                Some(u)
            } else {
                c.fail(path("user_id"), "no such user in this workspace");
                None
            }
        });
    Some((action?, credits?, user?))
}

fn known_campaign(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    required: bool,
    known: &Names,
) -> Option<Option<String>> {
    let present = m.get("campaign_id").is_some_and(|v| !v.is_null());
    if !present && !required {
        return Some(None);
    }
    let id = c.id(Field::required_if(m, "campaign_id", required).under(prefix))?;
    if known.has_campaign(&id) {
        Some(Some(id))
    } else {
        c.fail(
            format!(
                "{prefix}{}campaign_id",
                if prefix.is_empty() { "" } else { "." }
            ),
            "no such campaign in this workspace",
        );
        None
    }
}

fn known_identity(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    required: bool,
    known: &Names,
) -> Option<Option<String>> {
    let present = m.get("identity_id").is_some_and(|v| !v.is_null());
    if !present && !required {
        return Some(None);
    }
    let id = c.id(Field::required_if(m, "identity_id", required).under(prefix))?;
    if known.has_identity(&id) {
        Some(Some(id))
    } else {
        c.fail(
            format!(
                "{prefix}{}identity_id",
                if prefix.is_empty() { "" } else { "." }
            ),
            "no such identity in this workspace",
        );
        None
    }
}

fn read_event(
    c: &mut Checker,
    v: &Value,
    prefix: &str,
    known: &Names,
    now: DateTime<Utc>,
    horizon: Option<DateTime<Utc>>,
) -> Option<NewEvent> {
    let m = c.object(v, prefix)?;
    let id = c.id(Field::required(m, "id").under(prefix));
    let kind = c.choice(
        Field::required(m, "type").under(prefix),
        &["credits", "conversation"],
    );
    let occurred_at = c
        .text(
            Field::required(m, "occurred_at").under(prefix),
            MaxChars::TIMESTAMP,
        )
        .and_then(|s| match DateTime::parse_from_rfc3339(&s) {
            Ok(t) if t.with_timezone(&Utc) > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) => {
                c.fail(
                    format!("{prefix}.occurred_at"),
                    "must not be more than 5 minutes in the future",
                );
                None
            }
            // A retry of it could no longer be told from a duplicate.
            Ok(t) if horizon.is_some_and(|h| t.with_timezone(&Utc) < h) => {
                c.fail(
                    format!("{prefix}.occurred_at"),
                    format!(
                        "is before the retention horizon {}: raw events are kept from then on",
                        horizon
                            .unwrap_or_default()
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                );
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                c.fail(
                    format!("{prefix}.occurred_at"),
                    "must be an RFC 3339 timestamp with an offset",
                );
                None
            }
        });
    let event = match kind.as_deref() {
        Some("credits") => {
            let spend = read_spend(c, m, prefix, known);
            let campaign = known_campaign(c, m, prefix, false, known);
            let identity = known_identity(c, m, prefix, false, known);
            let (action, credits, user) = spend?;
            Some(NewEvent {
                id: id?,
                occurred_at: occurred_at?,
                credits: Some((action, credits)),
                user_id: user,
                campaign_id: campaign?,
                identity_id: identity?,
                request: canonical(v),
            })
        }
        Some(_) => {
            let campaign = known_campaign(c, m, prefix, true, known);
            let identity = known_identity(c, m, prefix, true, known)?;
            let user = identity.as_ref().and_then(|i| known.owners.get(i)).cloned();
            if let (Some(given), Some(user)) = (m.get("user_id").and_then(Value::as_str), &user) {
                if given != user {
                    c.fail(
                        format!("{prefix}.user_id"),
                        "must be the identity's user (or be left out)",
                    );
                    return None;
                }
            }
            Some(NewEvent {
                id: id?,
                occurred_at: occurred_at?,
                credits: None,
                user_id: user?,
                campaign_id: campaign?,
                identity_id: identity,
                request: canonical(v),
            })
        }
        None => None,
    };
    event
}

/// `POST /workspaces/{ws}/usage-events`: a batch, all or nothing.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/usage-events", tag = "usage",
    params(("workspace_id" = String, Path)),
    request_body = schema::EventsBody,
    responses((status = 200, body = BatchOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "An id already stored with other content; nothing written", body = ErrorBody),
              (status = 413, body = ErrorBody),
              (status = 422, description = "Every bad event listed by path; nothing written. With `--retain-events-months`, an `occurred_at` before the retention horizon is one, its message naming the horizon (RFC 3339)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_events(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<Json<BatchOut>> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let mut c = Checker::default();
    let list = c.object(&value, "").and_then(|m| match m.get("events") {
        Some(Value::Array(a)) if a.is_empty() => {
            c.fail("events", "must hold at least one event");
            None
        }
        Some(Value::Array(a)) if a.len() > MAX_BATCH => {
            c.fail("events", format!("must hold at most {MAX_BATCH} events"));
            None
        }
        Some(Value::Array(a)) => Some(a),
        _ => {
            c.fail("events", "must be an array of events");
            None
        }
    });
    let Some(list) = list else {
        return Err(ApiError::Validation(c.errors));
    };
    let known = state.store.names(&ws).await?;
    let now = state.now();
    let horizon = state.store.horizon(now);
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut events = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let prefix = format!("events[{i}]");
        if let Some(id) = v.get("id").and_then(Value::as_str) {
            if let Some(first) = seen.insert(id.to_string(), i) {
                c.fail(
                    format!("{prefix}.id"),
                    format!("repeats events[{first}].id"),
                );
            }
        }
        if let Some(e) = read_event(&mut c, v, &prefix, &known, now, horizon) {
            events.push(e);
        }
    }
    c.finish().map_err(ApiError::Validation)?;
    let outcome = state.store.record_events(&ws, &events, now).await?;
    metrics::counter!("credits_events_ingested_total", "result" => "inserted")
        .increment(outcome.inserted as u64);
    metrics::counter!("credits_events_ingested_total", "result" => "duplicate")
        .increment(outcome.duplicates as u64);
    Ok(Json(BatchOut {
        inserted: outcome.inserted,
        duplicates: outcome.duplicates,
    }))
}

/// `POST /workspaces/{ws}/charges`: atomic check-and-spend.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/charges", tag = "credits",
    params(("workspace_id" = String, Path)),
    request_body = schema::ChargeBody,
    responses((status = 201, description = "Spent", body = ChargeOut),
              (status = 200, description = "The same charge again: the first body", body = ChargeOut),
              (status = 401, body = ErrorBody), (status = 402, description = "`insufficient_credits` (the workspace) or `limit_reached` (a hard user or campaign limit, named in `limit`); `credits_left` beside `error`", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_charge(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<ChargeOut>)> {
    let answer = answer_charge(state, ws, body).await;
    let outcome = match &answer {
        Ok((StatusCode::CREATED, _)) => "created",
        Ok(_) => "duplicate",
        Err(ApiError::InsufficientCredits { .. }) => "insufficient_credits",
        Err(ApiError::LimitReached { .. }) => "limit_reached",
        Err(ApiError::Conflict(_)) => "conflict",
        Err(ApiError::Validation(_) | ApiError::NotFound | ApiError::PayloadTooLarge) => "invalid",
        Err(ApiError::Unavailable | ApiError::Timeout) => "unavailable",
        Err(_) => "error",
    };
    metrics::counter!("credits_charges_total", "outcome" => outcome).increment(1);
    answer
}

async fn answer_charge(
    state: AppState,
    ws: String,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<ChargeOut>)> {
    if !is_valid_id(&ws) {
        return Err(ApiError::NotFound);
    }
    let value = body.json();
    let now = state.now();
    // The fast path: a well-formed charge goes straight to the store,
    // whose group checks the workspace and the references of all its
    // charges at once.
    if let Ok(event) = value
        .as_ref()
        .map_err(|_| ())
        .and_then(|v| read_charge(v, &Names::trusting(), now).map_err(|_| ()))
    {
        return charge_answer(state.store.charge(&ws, &event, now, charge_body).await?);
    }
    // Otherwise every error is named: the workspace and the references
    // the charge names are read in one statement.
    let named = |field: &str| {
        value
            .as_ref()
            .ok()
            .and_then(|v| v.get(field))
            .and_then(|v| v.as_str())
    };
    let known = state
        .store
        .known_among(
            &ws,
            named("user_id"),
            named("campaign_id"),
            named("identity_id"),
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    let event = read_charge(&value?, &known, now)?;
    charge_answer(state.store.charge(&ws, &event, now, charge_body).await?)
}

/// A charge's body as a new event at `now`, its references checked
/// against `known`.
fn read_charge(value: &Value, known: &Names, now: DateTime<Utc>) -> ApiResult<NewEvent> {
    let mut c = Checker::default();
    let event = c.object(value, "").and_then(|m| {
        let id = c.id(Field::required(m, "id"));
        let spend = read_spend(&mut c, m, "", known);
        let campaign = known_campaign(&mut c, m, "", false, known);
        let identity = known_identity(&mut c, m, "", false, known);
        let (action, credits, user) = spend?;
        Some(NewEvent {
            id: id?,
            occurred_at: now,
            credits: Some((action, credits)),
            user_id: user,
            campaign_id: campaign?,
            identity_id: identity?,
            request: canonical(value),
        })
    });
    checked(c, event)
}

/// A grant as stored: it belongs to the current cycle and expires at its end.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantOut {
    pub id: String,
    /// `add_on` or `rollover`.
    pub kind: String,
    pub credits: i64,
    pub note: Option<String>,
    pub price: Option<app::model::Price>,
    pub cycle: CycleDates,
    /// The cycle's end date: the grant is gone from then on.
    pub expires_on: NaiveDate,
    pub created_at: String,
}

/// What a batch did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchOut {
    pub inserted: usize,
    pub duplicates: usize,
}

/// A recorded charge.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChargeRecord {
    pub id: String,
    pub action: String,
    pub credits: i64,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
    pub occurred_at: String,
}

/// A successful charge.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChargeOut {
    pub charge: ChargeRecord,
    /// The workspace's credits left to charges: `max(0, granted + overage - used)`.
    pub credits_left: i64,
    /// Each soft user or campaign limit past its effective limit after
    /// the charge (v1.2); empty when none.
    #[serde(default)]
    pub warnings: Vec<LimitWarningOut>,
}

/// A soft limit a charge passed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitWarningOut {
    /// `user` or `campaign`.
    pub scope: String,
    pub id: String,
    pub credits: i64,
    pub effective: i64,
    pub used: i64,
}

/// The body of a grant's answer (stored for its replays).
pub fn grant_body(g: &Granted) -> Value {
    json_of(&GrantOut {
        id: g.grant.id.clone(),
        kind: g.grant.kind.clone(),
        credits: g.grant.credits,
        note: g.grant.note.clone(),
        price: g.grant.price.clone(),
        cycle: CycleDates {
            start: g.cycle.start,
            end: g.cycle.end,
        },
        expires_on: g.cycle.end,
        created_at: g
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// The body of a charge's answer (stored for its replays).
fn charge_body(c: &Charged) -> Value {
    json_of(&ChargeOut {
        charge: ChargeRecord {
            id: c.event.id.clone(),
            action: c.action.key().to_string(),
            credits: c.credits,
            user_id: c.event.user_id.clone(),
            campaign_id: c.event.campaign_id.clone(),
            identity_id: c.event.identity_id.clone(),
            occurred_at: c
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        credits_left: c.credits_left,
        warnings: c
            .warnings
            .iter()
            .map(|w| LimitWarningOut {
                scope: w.scope.as_str().to_string(),
                id: w.id.clone(),
                credits: w.credits,
                effective: w.effective,
                used: w.used,
            })
            .collect(),
    })
}

fn json_of(body: &impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// A stored answer (the first one, on a replay) as its type.
fn stored_answer<T: serde::de::DeserializeOwned>(body: Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|e| ApiError::Internal(format!("stored answer: {e}")))
}

fn charge_answer(outcome: ChargeOutcome) -> ApiResult<(StatusCode, Json<ChargeOut>)> {
    match outcome {
        ChargeOutcome::Created(body) => Ok((StatusCode::CREATED, Json(stored_answer(body)?))),
        ChargeOutcome::Replayed(body) => Ok((StatusCode::OK, Json(stored_answer(body)?))),
        ChargeOutcome::Insufficient { credits_left } => {
            Err(ApiError::InsufficientCredits { credits_left })
        }
        ChargeOutcome::LimitReached { credits_left, hit } => {
            Err(ApiError::LimitReached { credits_left, hit })
        }
    }
}
