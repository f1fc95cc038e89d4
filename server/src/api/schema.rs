//! The OpenAPI document, generated from the handlers' annotations and these
//! schema types (which mirror the JSON the handlers read and write; the
//! tests check the contract's examples against them).

#![allow(dead_code)]

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::error::{ErrorBody, ErrorDetail, FieldError};

/// A price in minor units.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PriceBody {
    #[schema(minimum = 0)]
    pub amount_cents: i64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanBody {
    pub name: String,
    #[schema(minimum = 0)]
    pub monthly_credits: i64,
    #[schema(minimum = 0)]
    pub identities_included: i64,
    pub price: PriceBody,
}

/// The account manager.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountManagerBody {
    pub name: String,
    pub email: String,
}

/// `PUT /workspaces/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceBody {
    pub name: String,
    /// IANA zone.
    #[schema(example = "Europe/Madrid")]
    pub timezone: String,
    /// `monday` (default) or `sunday`.
    pub week_start: Option<String>,
    pub plan: PlanBody,
    pub account_manager: Option<AccountManagerBody>,
    /// Left out: the stored settings are kept (a new workspace gets the default).
    pub alerts: Option<AlertSettingsBody>,
}

/// Alert settings. Default: `{"thresholds": [80, 100], "runout_forecast": true}`.
/// In a `PUT`, a field left out keeps its stored value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertSettingsBody {
    /// 0 to 5 distinct integers from 1 to 100: percentages of the cycle's granted credits used.
    #[schema(example = json!([50, 80, 100]))]
    pub thresholds: Option<Vec<u8>>,
    /// Record a `runout_forecast` alert (at most once a cycle) when the
    /// pace of the last 7 full local days runs out before renewal.
    pub runout_forecast: Option<bool>,
}

/// The workspace as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceOut {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub week_start: String,
    pub plan: PlanBody,
    pub account_manager: Option<AccountManagerBody>,
    pub alerts: AlertSettingsBody,
}

/// `PUT /users/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserBody {
    pub name: String,
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
}

/// A user as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

/// `PUT /identities/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityBody {
    pub name: String,
    /// `linkedin` or `email`.
    pub channel: String,
    pub user_id: String,
}

/// An identity as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityOut {
    pub id: String,
    pub name: String,
    pub channel: String,
    pub user_id: String,
}

/// `PUT /campaigns/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignBody {
    pub name: String,
    /// `active`, `paused` or `archived`.
    pub status: String,
}

/// A campaign as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// `POST /credit-grants` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantBody {
    pub id: String,
    /// `add_on` or `rollover`.
    pub kind: String,
    #[schema(minimum = 1)]
    pub credits: i64,
    pub note: Option<String>,
    pub price: Option<PriceBody>,
}

/// A billing cycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CycleDates {
    pub start: String,
    /// Exclusive.
    pub end: String,
}

/// A grant as stored: it belongs to the current cycle and expires at its end.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantOut {
    pub id: String,
    pub kind: String,
    pub credits: i64,
    pub note: Option<String>,
    pub price: Option<PriceBody>,
    pub cycle: CycleDates,
    /// The cycle's end date: the grant is gone from then on.
    pub expires_on: String,
    pub created_at: String,
}

/// One usage event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventBody {
    pub id: String,
    /// `credits` or `conversation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339 with an offset; at most 5 minutes in the future.
    pub occurred_at: String,
    /// Credits events: `scrape_company`, `scrape_contact`, `enrich_email`, `enrich_phone`, `ai_completion`.
    pub action: Option<String>,
    /// Credits events: a positive integer.
    pub credits: Option<i64>,
    /// Required for credits events; for conversations, the identity's user.
    pub user_id: Option<String>,
    /// Required for conversations.
    pub campaign_id: Option<String>,
    /// Required for conversations.
    pub identity_id: Option<String>,
}

/// `POST /usage-events` body: 1 to 10,000 events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsBody {
    pub events: Vec<EventBody>,
}

/// What a batch did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchOut {
    pub inserted: i64,
    pub duplicates: i64,
}

/// `POST /charges` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChargeBody {
    pub id: String,
    pub action: String,
    #[schema(minimum = 1)]
    pub credits: i64,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
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
    pub credits_left: i64,
}

/// The current cycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CycleOut {
    pub start: String,
    pub end: String,
    pub renews_on: String,
    pub days_until_renewal: i64,
}

/// Credits of the current cycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditsOut {
    pub plan: i64,
    pub add_on: i64,
    pub rollover: i64,
    pub granted: i64,
    pub used: i64,
    /// `max(0, granted - used)`
    pub left: i64,
    /// `max(0, used - granted)`
    pub overage: i64,
}

/// `GET /summary`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SummaryOut {
    pub workspace_id: String,
    pub timezone: String,
    pub today: String,
    pub cycle: CycleOut,
    pub plan: PlanBody,
    pub credits: CreditsOut,
}

/// The period a report covers; `to` is exclusive.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeriodOut {
    pub name: String,
    pub from: String,
    pub to: String,
    pub timezone: String,
}

/// A row: one field per grouped dimension (`day`, `action`, `category`,
/// `user_id`, `campaign_id`, `identity_id`; `null` for none), `label` for a
/// single non-day dimension, and `credits`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditRow {
    pub day: Option<String>,
    pub action: Option<String>,
    pub category: Option<String>,
    pub user_id: Option<String>,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
    pub label: Option<String>,
    pub credits: i64,
}

/// `GET /credit-usage`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditUsageOut {
    pub period: PeriodOut,
    pub total: i64,
    pub rows: Vec<CreditRow>,
}

/// A conversations row.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationRow {
    pub day: Option<String>,
    pub user_id: Option<String>,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
    pub label: Option<String>,
    pub conversations: i64,
}

/// `GET /conversations`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationsOut {
    pub period: PeriodOut,
    pub total: i64,
    pub rows: Vec<ConversationRow>,
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

/// Paging of support requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupportRequestParams {
    /// 1-100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a request's webhook delivery stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOut {
    /// `pending` or `delivered`.
    pub status: String,
    pub attempts: i64,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

/// A request to the account manager. The same object (without `delivery`,
/// with `type: "support_request.created"`, `workspace_name` and
/// `account_manager`) is POSTed to `CREDITS_REQUEST_WEBHOOK_URL` with the
/// request's id as `Idempotency-Key`, retried until a 2xx.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SupportRequestOut {
    pub id: String,
    pub workspace_id: String,
    pub user_id: Option<String>,
    /// `change_plan` or `buy_more`.
    pub intent: String,
    pub message: String,
    pub created_at: String,
    pub delivery: DeliveryOut,
}

/// A billing cycle: `end` is exclusive (the renewal date).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertCycleOut {
    pub start: String,
    pub end: String,
}

/// An alert's delivery to the webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryOut {
    /// `pending`, `delivered`, `failed` (still retried) or `none` (no webhook configured).
    pub status: String,
    pub attempts: i64,
}

/// An alert, recorded in the same transaction as the usage, grant or
/// charge that caused it. With a webhook configured it is POSTed (without
/// `delivery`, with `type` `credits.threshold_reached`, `credits.recovered`
/// or `credits.runout_forecast`, `workspace_id` and `workspace_name`) with
/// its id as `Idempotency-Key` and, with a secret, `X-Credits-Signature:
/// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertOut {
    #[schema(example = "al_019ab3c4d5e60001a1b2")]
    pub id: String,
    /// `threshold`, `recovered` or `runout_forecast`.
    pub kind: String,
    /// The threshold; null for `runout_forecast`.
    pub percent: Option<u8>,
    pub cycle: AlertCycleOut,
    pub used: i64,
    pub granted: i64,
    /// The forecast run-out date; null unless `runout_forecast`.
    pub runs_out_on: Option<String>,
    pub created_at: String,
    pub delivery: AlertDeliveryOut,
}

/// A page of alerts, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertsOut {
    pub alerts: Vec<AlertOut>,
    pub next_cursor: Option<String>,
}

/// A page of requests, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SupportRequestsOut {
    pub requests: Vec<SupportRequestOut>,
    pub next_cursor: Option<String>,
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

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Credits — View Usage: platform API", version = "1"),
    paths(
        super::put_workspace, super::put_user, super::put_identity, super::put_campaign,
        super::post_grant, super::post_events, super::post_charge,
        super::get_summary, super::get_credit_usage, super::get_conversations,
        super::csv::get_credit_usage_csv, super::get_support_requests,
        super::alerts::get_alerts,
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
