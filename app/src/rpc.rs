//! Server functions: the dashboard's queries. Thin: they take the
//! workspace from the request's context (never from the client) and call
//! the store through [`ssr::UsageSource`].

use leptos::prelude::*;

use crate::model::{Metric, Overview, Report};

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server provides to server functions.
    use std::sync::Arc;

    use crate::model::{Metric, Overview, Report, UsageQuery};

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
    }

    /// The store, as the server functions see it.
    #[derive(Clone)]
    pub struct Source(pub Arc<dyn UsageSource>);

    /// The workspace of the current request.
    #[derive(Clone, Debug)]
    pub struct CurrentWorkspace(pub String);

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
