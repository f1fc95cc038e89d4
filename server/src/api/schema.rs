//! The request bodies and query parameters as the OpenAPI document shows
//! them, and the document's frame. The validator reads bodies field by
//! field (to name every bad field), so these types describe what it
//! accepts; the tests read the contract's examples as them. The answers are
//! the handlers' own types, in each resource's file.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use app::model::{AccountManager, Plan, Price};

use super::error::{ErrorBody, ErrorDetail, FieldError};

/// `PUT /workspaces/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceBody {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// IANA zone.
    #[schema(example = "Europe/Madrid", max_length = 64)]
    pub timezone: String,
    /// `monday` (default) or `sunday`.
    #[schema(pattern = "^(monday|sunday)$")]
    pub week_start: Option<String>,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    /// Left out: the stored settings are kept (a new workspace gets the default).
    pub alerts: Option<AlertSettingsBody>,
    /// Limit settings (v1.2). Left out: the stored settings are kept.
    pub limits: Option<LimitsBody>,
}

/// A limit: credits per billing cycle and whether it refuses charges.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitBody {
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub credits: i64,
    /// `hard` (charges past it are refused) or `soft` (accepted, with a warning and an alert).
    #[schema(pattern = "^(hard|soft)$")]
    pub mode: String,
}

/// The workspace's limit settings. Default: `{"user_default": null, "overage": 0}`.
/// In a `PUT`, a key left out keeps its stored value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitsBody {
    /// The limit of every user without one of their own; `null` for none.
    pub user_default: Option<LimitBody>,
    /// Credits charges may take past the cycle's granted credits.
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub overage: Option<i64>,
}

/// `POST /limit-requests` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitRequestBody {
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub id: String,
    /// A user of the workspace that a limit applies to.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub user_id: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub credits: i64,
    /// Why; default `""`.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// `POST /limit-requests/{id}/decision` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionBody {
    /// `approve` or `deny`.
    #[schema(pattern = "^(approve|deny)$")]
    pub decision: String,
    /// Approvals only: the credits to add (default: the requested amount).
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub credits: Option<i64>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Paging and status of the list of limit requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitRequestParams {
    /// `pending`, `approved`, `denied` or `expired`; all when left out.
    #[param(pattern = "^(pending|approved|denied|expired)$")]
    pub status: Option<String>,
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Alert settings. Default: `{"thresholds": [80, 100], "runout_forecast": true}`.
/// In a `PUT`, a field left out keeps its stored value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertSettingsBody {
    /// 0 to 5 distinct integers from 1 to 100: percentages of the cycle's granted credits used.
    #[schema(example = json!([50, 80, 100]), max_items = 5)]
    pub thresholds: Option<Vec<u8>>,
    /// Record a `runout_forecast` alert (at most once a cycle) when the
    /// pace of the last 7 full local days runs out before renewal.
    pub runout_forecast: Option<bool>,
}

/// `PUT /users/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserBody {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 254)]
    pub email: String,
    /// `admin` or `member`.
    #[schema(pattern = "^(admin|member)$")]
    pub role: String,
}

/// `PUT /identities/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityBody {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `linkedin` or `email`.
    #[schema(pattern = "^(linkedin|email)$")]
    pub channel: String,
    /// A user of the workspace.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub user_id: String,
}

/// `PUT /campaigns/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignBody {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `active`, `paused` or `archived`.
    #[schema(pattern = "^(active|paused|archived)$")]
    pub status: String,
}

/// `POST /credit-grants` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantBody {
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub id: String,
    /// `add_on` or `rollover`.
    #[schema(pattern = "^(add_on|rollover)$")]
    pub kind: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub credits: i64,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    pub price: Option<Price>,
}

/// One usage event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventBody {
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub id: String,
    /// `credits` or `conversation`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(credits|conversation)$")]
    pub kind: String,
    /// RFC 3339 with an offset; at most 5 minutes in the future.
    #[schema(format = DateTime, max_length = 64)]
    pub occurred_at: String,
    /// Credits events: `scrape_company`, `scrape_contact`, `enrich_email`, `enrich_phone`, `ai_completion`.
    #[schema(
        pattern = "^(scrape_company|scrape_contact|enrich_email|enrich_phone|ai_completion)$"
    )]
    pub action: Option<String>,
    /// Credits events: a positive integer.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub credits: Option<i64>,
    /// Required for credits events; for conversations, the identity's user.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub user_id: Option<String>,
    /// Required for conversations.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub campaign_id: Option<String>,
    /// Required for conversations.
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub identity_id: Option<String>,
}

/// `POST /usage-events` body: 1 to 10,000 events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsBody {
    #[schema(min_items = 1, max_items = 10_000)]
    pub events: Vec<EventBody>,
}

/// `POST /charges` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChargeBody {
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub id: String,
    /// `scrape_company`, `scrape_contact`, `enrich_email`, `enrich_phone` or `ai_completion`.
    #[schema(
        pattern = "^(scrape_company|scrape_contact|enrich_email|enrich_phone|ai_completion)$"
    )]
    pub action: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub credits: i64,
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub user_id: String,
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub campaign_id: Option<String>,
    #[schema(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub identity_id: Option<String>,
}

/// The period and grouping of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `today`, `yesterday`, `day`, `this_week`, `last_week`, `this_month` (default), `last_month`, `last_28_days`, `custom`.
    pub period: Option<String>,
    /// With `period=day`: `YYYY-MM-DD`.
    pub date: Option<String>,
    /// With `period=custom`: first day, inclusive.
    pub from: Option<String>,
    /// With `period=custom`: last day, inclusive (at most 366 days).
    pub to: Option<String>,
    /// One dimension or two joined by a comma, such as `day,action`. `day`
    /// alone: every day of the period, zero-filled, in date order. `day`
    /// with another dimension: a time series, in date order, then by value
    /// descending, then key. Anything else: by value descending, then key
    /// (`null` last).
    pub group_by: Option<String>,
    pub user_id: Option<String>,
    /// Credit reports only.
    pub action: Option<String>,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
}

/// Paging of a newest-first list (support requests, alerts).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// What any route may answer besides its own: `503` when the server is at
/// its cap on requests in flight or the request ran out of time (retry
/// after `Retry-After`), and `413` for a body over 2 MiB where a route reads
/// one.
pub struct EveryRoute;

impl Modify for EveryRoute {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                responses.entry("503".into()).or_insert_with(|| {
                    error("`unavailable` (at the cap on requests in flight) or `timeout`: retry after `Retry-After`").into()
                });
                if op.request_body.is_some() {
                    responses.entry("413".into()).or_insert_with(|| {
                        error("`payload_too_large`: the body is over 2 MiB").into()
                    });
                }
            }
        }
    }
}

/// The document's frame: its title, the bearer scheme and the error body.
/// The paths come from the router (`super::router`), which registers each
/// handler with its `#[utoipa::path]`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Credits — View Usage: platform API", version = "1"),
    components(schemas(ErrorBody, ErrorDetail, FieldError)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
