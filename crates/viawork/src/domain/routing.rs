//! The routing configuration's Call Via Work setting (`Set-CsRoutingConfiguration
//! -CallViaWorkCallerId`): the one global number shown on the user's PBX phone during the
//! callback leg. It is nobody's real number; it tells the user "this is your own outgoing
//! call". Global scope only, as in Skype.

use super::e164::E164;
use serde::{Deserialize, Serialize};

/// Global routing settings for Call Via Work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutingConfiguration {
    /// `CallViaWorkCallerId`: the caller ID of the callback leg. Until it is set, calls
    /// have no caller ID to show and the call service should refuse to place them.
    #[serde(default)]
    pub call_via_work_caller_id: Option<E164>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_one_validated_global_number() {
        let r: RoutingConfiguration =
            serde_json::from_str(r#"{"callViaWorkCallerId":"+15551234567"}"#).unwrap();
        assert_eq!(
            r.call_via_work_caller_id.as_ref().map(E164::as_str),
            Some("+15551234567")
        );
        assert_eq!(
            RoutingConfiguration::default().call_via_work_caller_id,
            None
        );
        assert!(serde_json::from_str::<RoutingConfiguration>(
            r#"{"callViaWorkCallerId":"5551234"}"#
        )
        .is_err());
    }
}
