//! The global routing setting of Call Via Work (`Set-CsRoutingConfiguration
//! -CallViaWorkCallerId`): the number shown on the user's PBX phone during the callback leg.

use serde::Serialize;

use super::output::{fields, Render};
use super::AdminError;
use crate::domain::E164;
use crate::store::{RoutingRow, Store};

/// The routing configuration as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingView {
    /// `CallViaWorkCallerId`, E.164, if set.
    pub call_via_work_caller_id: Option<String>,
}

impl Render for RoutingView {
    fn human(&self) -> String {
        let id = self
            .call_via_work_caller_id
            .clone()
            .unwrap_or_else(|| "(not set)".to_owned());
        fields(&[("CallViaWorkCallerId", id)])
    }
}

/// `routing get`.
pub async fn get_routing(store: &dyn Store) -> Result<RoutingView, AdminError> {
    let row = store.get_routing().await?;
    Ok(RoutingView {
        call_via_work_caller_id: row.call_via_work_caller_id,
    })
}

/// `routing set`: an E.164 caller ID, or empty / `none` to clear it.
pub async fn set_routing(store: &dyn Store, caller_id: &str) -> Result<RoutingView, AdminError> {
    let caller_id = caller_id.trim();
    let number = if caller_id.is_empty() || caller_id.eq_ignore_ascii_case("none") {
        None
    } else {
        Some(E164::parse_field("callViaWorkCallerId", caller_id)?.to_string())
    };
    store
        .set_routing(&RoutingRow {
            call_via_work_caller_id: number,
        })
        .await?;
    get_routing(store).await
}
