//! Server functions: the dashboard's queries. Thin: they take the
//! workspace from the request's context (never from the client) and call
//! the store through [`ssr::UsageSource`].

use leptos::prelude::*;

use crate::model::{ConversationsView, CreditsView, Metric, Overview, Report, SupportRequest};

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server provides to server functions.
    use std::sync::Arc;

    use crate::model::{
        ConversationsView, CreditsView, Intent, Metric, Overview, Report, SupportRequest,
        UsageQuery,
    };

    /// The dashboard's read queries, implemented by the server's store.
    #[async_trait::async_trait]
    pub trait UsageSource: Send + Sync + 'static {
        /// Header and Plan tab figures of a workspace.
        async fn overview(&self, workspace_id: &str) -> Result<Overview, String>;
        /// A usage report of a workspace.
        async fn report(
            &self,
            workspace_id: &str,
            metric: Metric,
            query: &UsageQuery,
        ) -> Result<Report, String>;
        /// The Credits tab for a query; bad parameters are dropped with a note.
        async fn credits_view(
            &self,
            workspace_id: &str,
            params: &[(String, String)],
        ) -> Result<CreditsView, String>;
        /// The Conversations tab for a query; bad parameters are dropped with a note.
        async fn conversations_view(
            &self,
            workspace_id: &str,
            params: &[(String, String)],
        ) -> Result<ConversationsView, String>;
        /// Stores a request to the account manager (and queues its delivery).
        async fn send_request(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
            intent: Intent,
            message: &str,
        ) -> Result<SupportRequest, String>;
    }

    /// The store, as the server functions see it.
    #[derive(Clone)]
    pub struct Source(pub Arc<dyn UsageSource>);

    /// The workspace of the current request.
    #[derive(Clone, Debug)]
    pub struct CurrentWorkspace(pub String);

    /// The signed-in user of the current request.
    #[derive(Clone, Debug)]
    pub struct CurrentUser(pub String);

    /// The source and workspace of this request.
    pub fn context() -> Result<(Source, String), leptos::prelude::ServerFnError> {
        let source = leptos::prelude::use_context::<Source>()
            .ok_or_else(|| leptos::prelude::ServerFnError::new("no data source"))?;
        let ws = leptos::prelude::use_context::<CurrentWorkspace>()
            .ok_or_else(|| leptos::prelude::ServerFnError::new("not signed in"))?;
        Ok((source, ws.0))
    }
}

/// The header's and Plan tab's figures.
#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    let (source, ws) = ssr::context()?;
    source.0.overview(&ws).await.map_err(ServerFnError::new)
}

/// A usage report for the page's query string. Bad parameters fall back to
/// the default view; the notes say which were ignored.
#[server(prefix = "/rpc", endpoint = "report")]
pub async fn get_report(
    metric: Metric,
    params: Vec<(String, String)>,
) -> Result<(Report, Vec<String>), ServerFnError> {
    use crate::query::{parse_usage_query, PAGE_FILTERS};
    let (source, ws) = ssr::context()?;
    let (query, notes) = match parse_usage_query(metric, &params, PAGE_FILTERS) {
        Ok(q) => (q, Vec::new()),
        Err(errors) => {
            let notes = errors
                .iter()
                .map(|e| format!("Ignored {}: {}", e.param, e.message))
                .collect();
            let fallback = parse_usage_query(metric, &[], PAGE_FILTERS)
                .map_err(|_| ServerFnError::new("default query"))?;
            (fallback, notes)
        }
    };
    let report = source
        .0
        .report(&ws, metric, &query)
        .await
        .map_err(ServerFnError::new)?;
    Ok((report, notes))
}

/// Sends a request to the account manager: `intent` is `change_plan` or
/// `buy_more`. Works as a plain form post too (without JavaScript).
#[server(prefix = "/rpc", endpoint = "support-request")]
pub async fn send_support_request(
    intent: String,
    message: String,
) -> Result<SupportRequest, ServerFnError> {
    use crate::model::{Intent, MAX_REQUEST_MESSAGE};
    let (source, ws) = ssr::context()?;
    let intent = Intent::parse(&intent)
        .ok_or_else(|| ServerFnError::new("Choose Change Plan or Buy More."))?;
    let message = message.trim();
    if message.is_empty() {
        return Err(ServerFnError::new(
            "Write a few words for your account manager.",
        ));
    }
    if message.chars().count() > MAX_REQUEST_MESSAGE {
        return Err(ServerFnError::new(format!(
            "Keep the message under {MAX_REQUEST_MESSAGE} characters."
        )));
    }
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    source
        .0
        .send_request(&ws, user.as_deref(), intent, message)
        .await
        .map_err(ServerFnError::new)
}

/// The Credits tab for the page's query string.
#[server(prefix = "/rpc", endpoint = "credits-view")]
pub async fn get_credits_view(params: Vec<(String, String)>) -> Result<CreditsView, ServerFnError> {
    let (source, ws) = ssr::context()?;
    source
        .0
        .credits_view(&ws, &params)
        .await
        .map_err(ServerFnError::new)
}

/// The Conversations tab for the page's query string.
#[server(prefix = "/rpc", endpoint = "conversations-view")]
pub async fn get_conversations_view(
    params: Vec<(String, String)>,
) -> Result<ConversationsView, ServerFnError> {
    let (source, ws) = ssr::context()?;
    source
        .0
        .conversations_view(&ws, &params)
        .await
        .map_err(ServerFnError::new)
}
