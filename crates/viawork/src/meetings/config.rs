//! The `[meetings]` table: conference bridge numbers, join URLs, limits and the PIN policy.

use crate::domain::{PinPolicy, E164};

/// One conference bridge (dial-in access) number, which the PBX routes to ViaWork.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BridgeNumber {
    /// The number in E.164.
    #[schema(value_type = String)]
    pub number: E164,
    /// The PBX extension that also reaches it, if any.
    pub extension: Option<String>,
    /// Region or label shown with it ("Redmond", "Moscow").
    pub name: String,
    /// Languages of its prompts (BCP 47 tags; ViaWork ships `en-US`).
    pub languages: Vec<String>,
}

/// The `[meetings]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingsConfig {
    /// Conference bridge numbers (`meetings.bridge_numbers`).
    pub bridge_numbers: Vec<BridgeNumber>,
    /// Start of join URLs, e.g. `https://viawork.example.com` (`meetings.join_url_base`);
    /// by default `http://` and the HTTP listen address.
    pub join_url_base: Option<String>,
    /// Most meetings one organizer keeps (`meetings.max_per_organizer`; UCWA's
    /// `TooManyOnlineMeetings`).
    pub max_per_organizer: usize,
    /// The dial-in PIN policy (`meetings.pin_min_length`, `meetings.pin_allow_common_patterns`).
    pub pin_policy: PinPolicy,
    /// Where recordings are written (`meetings.recordings_dir`).
    pub recordings_dir: std::path::PathBuf,
    /// Recordings older than this many days are deleted; 0 keeps them
    /// (`meetings.recording_retention_days`).
    pub recording_retention_days: u32,
}

impl Default for MeetingsConfig {
    fn default() -> Self {
        MeetingsConfig {
            bridge_numbers: Vec::new(),
            join_url_base: None,
            max_per_organizer: 1000,
            pin_policy: PinPolicy::default(),
            recordings_dir: "recordings".into(),
            recording_retention_days: 30,
        }
    }
}

impl MeetingsConfig {
    /// The bridge number `user` (a Request-URI user part: digits with or without `+`, or an
    /// extension) dialled, if it is one.
    pub fn bridge_for(&self, user: &str) -> Option<&BridgeNumber> {
        let digits = user.trim_start_matches('+');
        self.bridge_numbers.iter().find(|b| {
            b.number.as_str().trim_start_matches('+') == digits
                || b.extension.as_deref() == Some(user)
        })
    }
}
