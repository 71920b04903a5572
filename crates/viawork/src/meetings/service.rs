//! The meetings service: meetings kept in the store, their join URLs and dial-in details,
//! and users' dial-in PINs with Skype's lockout. No HTTP here (`api::meetings` is the thin
//! edge) and no media (the conference runtime joins calls to meetings).

use std::sync::Arc;

use rand::Rng;

use super::config::MeetingsConfig;
use super::meeting::{Input, Meeting, Settings};
use super::{conference_id, pin_lockout};
use crate::domain::{DomainError, LineUri, Pin, PinHash, E164};
use crate::store::{RecordingRow, Store, StoreError, UserRow};

/// How many conference IDs are drawn before giving up (each clash lengthens the next).
const ID_ATTEMPTS: usize = 8;

/// Why a meetings request failed.
#[derive(Debug, thiserror::Error)]
pub enum MeetingsError {
    /// Input the domain refuses (names the field).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// No such meeting, or not one the user may see.
    #[error("no such meeting")]
    NotFound,
    /// Only the organizer may change or delete a meeting.
    #[error("only the organizer may change or delete this meeting")]
    NotOrganizer,
    /// The organizer has as many meetings as `meetings.max_per_organizer` allows.
    #[error("you have {limit} meetings, the most allowed; delete some first")]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// The meeting changed since it was read.
    #[error("the meeting changed meanwhile; read it again")]
    Conflict,
    /// Dial-in conferencing is not enabled for the user.
    #[error("dial-in conferencing is not enabled for you")]
    DialInNotEnabled,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A stored meeting no longer reads (written by a different version?).
    #[error("a stored meeting cannot be read: {0}")]
    Corrupt(String),
}

impl From<StoreError> for MeetingsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict {
                field: "updated_at",
            } => MeetingsError::Conflict,
            e => MeetingsError::Store(e),
        }
    }
}

/// The result of a dial-in PIN check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// The PIN is right (the failure counters are cleared).
    Accepted,
    /// Wrong PIN, or the user has none or may not dial in (counted).
    Refused,
    /// Locked by earlier failures: until then (Unix ms), or `None` until an admin unlocks.
    Locked(Option<i64>),
}

/// The meetings service; cheap to clone.
#[derive(Clone)]
pub struct MeetingsService {
    store: Arc<dyn Store>,
    config: Arc<MeetingsConfig>,
    join_base: Arc<str>,
}

impl std::fmt::Debug for MeetingsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingsService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MeetingsService {
    /// A service over `store`; join URLs start with `meetings.join_url_base`, else
    /// `default_base` (the HTTP listener).
    pub fn new(store: Arc<dyn Store>, config: MeetingsConfig, default_base: &str) -> Self {
        let join_base = config
            .join_url_base
            .clone()
            .unwrap_or_else(|| default_base.trim_end_matches('/').to_owned());
        MeetingsService {
            store,
            config: Arc::new(config),
            join_base: join_base.into(),
        }
    }

    /// The `[meetings]` table.
    pub fn config(&self) -> &MeetingsConfig {
        &self.config
    }

    /// Where a browser joins `meeting`.
    pub fn join_url(&self, meeting: &Meeting) -> String {
        format!("{}/meet/{}", self.join_base, meeting.id)
    }

    /// Schedules a meeting (`ad_hoc`: Meet Now) organized by `organizer`.
    pub async fn create(
        &self,
        organizer: &UserRow,
        input: Input,
        ad_hoc: bool,
        now: i64,
    ) -> Result<Meeting, MeetingsError> {
        let limit = self.config.max_per_organizer;
        if self.store.count_meetings(organizer.id).await? >= limit as i64 {
            return Err(MeetingsError::TooMany { limit });
        }
        let base = Meeting {
            id: String::new(),
            organizer_id: organizer.id,
            organizer: organizer.sip_uri.to_ascii_lowercase(),
            conference_id: String::new(),
            subject: String::new(),
            description: String::new(),
            starts_at: None,
            ends_at: None,
            expires_at: 0,
            ad_hoc,
            settings: Settings::default(),
            created_at: now,
            updated_at: now,
        };
        let mut meeting = input.apply(base, true, now)?;
        let mut len = conference_id::DEFAULT_LENGTH;
        for _ in 0..ID_ATTEMPTS {
            {
                let mut rng = rand::rng();
                meeting.id = hex(&rng.random::<[u8; 12]>());
                meeting.conference_id = conference_id::generate(&mut rng, len);
            }
            match self.store.create_meeting(&meeting.to_row()).await {
                Ok(()) => return Ok(meeting),
                Err(StoreError::Conflict { .. }) => len += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Err(MeetingsError::Store(StoreError::Conflict {
            field: "conference_id",
        }))
    }

    /// The meeting `id` if `viewer` organizes, leads or attends it ([`MeetingsError::NotFound`]
    /// otherwise, so that ids cannot be probed).
    pub async fn get_for(&self, id: &str, viewer: &str) -> Result<Meeting, MeetingsError> {
        let meeting = self.get(id).await?.ok_or(MeetingsError::NotFound)?;
        if meeting.is_invited(viewer) {
            Ok(meeting)
        } else {
            Err(MeetingsError::NotFound)
        }
    }

    /// The meeting `id`, whoever asks (the join URL is the capability).
    pub async fn get(&self, id: &str) -> Result<Option<Meeting>, MeetingsError> {
        self.store.get_meeting(id).await?.map(read).transpose()
    }

    /// The meeting whose conference ID a dial-in caller typed.
    pub async fn by_conference_id(&self, id: &str) -> Result<Option<Meeting>, MeetingsError> {
        if !conference_id::is_valid(id) {
            return Ok(None);
        }
        self.store
            .get_meeting_by_conference_id(id)
            .await?
            .map(read)
            .transpose()
    }

    /// The meetings `organizer` organizes.
    pub async fn list(&self, organizer: &UserRow) -> Result<Vec<Meeting>, MeetingsError> {
        let rows = self
            .store
            .list_meetings(organizer.id, self.config.max_per_organizer as i64)
            .await?;
        rows.into_iter().map(read).collect()
    }

    /// Changes a meeting of `organizer`.
    pub async fn update(
        &self,
        id: &str,
        organizer: &UserRow,
        input: Input,
        now: i64,
    ) -> Result<Meeting, MeetingsError> {
        let current = self.owned(id, organizer).await?;
        let expected = current.updated_at;
        let mut changed = input.apply(current, false, now)?;
        // Strictly increasing, so that two changes in one millisecond still differ.
        changed.updated_at = now.max(expected + 1);
        if self
            .store
            .update_meeting(&changed.to_row(), expected)
            .await?
        {
            Ok(changed)
        } else {
            Err(MeetingsError::NotFound)
        }
    }

    /// Deletes a meeting of `organizer`.
    pub async fn delete(&self, id: &str, organizer: &UserRow) -> Result<(), MeetingsError> {
        self.owned(id, organizer).await?;
        if self.store.delete_meeting(id).await? {
            Ok(())
        } else {
            Err(MeetingsError::NotFound)
        }
    }

    /// Deletes expired meetings; how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, MeetingsError> {
        Ok(self.store.delete_expired_meetings(now).await?)
    }

    async fn owned(&self, id: &str, organizer: &UserRow) -> Result<Meeting, MeetingsError> {
        let meeting = self.get(id).await?.ok_or(MeetingsError::NotFound)?;
        if meeting.organizer_id == organizer.id {
            Ok(meeting)
        } else if meeting.is_invited(&organizer.sip_uri) {
            Err(MeetingsError::NotOrganizer)
        } else {
            Err(MeetingsError::NotFound)
        }
    }

    /// Sets `user`'s dial-in PIN to `pin` under the configured PIN policy, or to a
    /// generated one when `pin` is `None` (returned, to be shown once). Clears the lockout.
    pub async fn set_pin(
        &self,
        user: &UserRow,
        pin: Option<&str>,
    ) -> Result<(UserRow, Option<String>), MeetingsError> {
        if !user.dial_in_conferencing {
            return Err(MeetingsError::DialInNotEnabled);
        }
        let (pin, shown) = match pin {
            Some(p) => (pin_for_user(&self.config.pin_policy, user, p)?, None),
            None => {
                let p = loop {
                    let candidate = Pin::generate(&self.config.pin_policy, &mut rand::rng());
                    if let Ok(p) = pin_for_user(&self.config.pin_policy, user, candidate.expose()) {
                        break p;
                    }
                };
                let shown = p.expose().to_owned();
                (p, Some(shown))
            }
        };
        // The caller's row may come from a cache: change the stored one.
        let mut row = self
            .store
            .get_user(user.id)
            .await?
            .ok_or(MeetingsError::Store(StoreError::NotFound { what: "user" }))?;
        row.pin_hash = Some(pin.hash().as_phc().to_owned());
        let row = self
            .store
            .update_user(&row)
            .await
            .map_err(MeetingsError::Store)?;
        self.store.set_pin_lockout(user.id, None, 0).await?;
        Ok((row, shown))
    }

    /// Checks a PIN a dial-in caller typed as `user`, counting failures.
    pub async fn check_pin(
        &self,
        user: &UserRow,
        pin: &str,
        now: i64,
    ) -> Result<PinCheck, MeetingsError> {
        let counters = self.store.get_pin_lockout(user.id).await?;
        match pin_lockout::state(counters.as_ref(), now) {
            pin_lockout::State::Open => {}
            pin_lockout::State::LockedUntil(t) => return Ok(PinCheck::Locked(Some(t))),
            pin_lockout::State::LockedOut => return Ok(PinCheck::Locked(None)),
        }
        let hash = user
            .pin_hash
            .as_deref()
            .and_then(|h| PinHash::from_phc(h).ok());
        // argon2 is slow on purpose: off the async threads.
        let pin_owned = pin.to_owned();
        let right = match hash {
            Some(h) if user.enabled && user.dial_in_conferencing => {
                tokio::task::spawn_blocking(move || h.verify(&pin_owned))
                    .await
                    .unwrap_or(false)
            }
            _ => false,
        };
        if right {
            if counters.is_some() {
                self.store.set_pin_lockout(user.id, None, now).await?;
            }
            return Ok(PinCheck::Accepted);
        }
        let limits = pin_lockout::Limits::for_length(self.config.pin_policy.min_length());
        let next = pin_lockout::after_failure(counters.as_ref(), limits, now);
        self.store
            .set_pin_lockout(user.id, Some(&next), now)
            .await?;
        Ok(PinCheck::Refused)
    }

    // ---- recordings ---------------------------------------------------------------

    /// Starts the record of a recording of `meeting` whose `viewers` may hear it; returns
    /// its row and the file to write (the directory is created if missing).
    pub async fn new_recording(
        &self,
        meeting: &Meeting,
        viewers: Vec<String>,
        now: i64,
    ) -> Result<(RecordingRow, std::path::PathBuf), MeetingsError> {
        let dir = &self.config.recordings_dir;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| MeetingsError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
        let id = hex(&rand::random::<[u8; 12]>());
        let row = RecordingRow {
            file: format!("{id}.wav"),
            id,
            meeting_id: meeting.id.clone(),
            organizer_id: meeting.organizer_id,
            subject: meeting.subject.clone(),
            viewers: serde_json::to_string(&viewers).unwrap_or_else(|_| "[]".into()),
            started_at: now,
            ended_at: None,
            duration_ms: 0,
            bytes: 0,
        };
        self.store.create_recording(&row).await?;
        let path = dir.join(&row.file);
        Ok((row, path))
    }

    /// Records that a recording stopped.
    pub async fn recording_finished(
        &self,
        id: &str,
        duration_ms: i64,
        now: i64,
    ) -> Result<(), MeetingsError> {
        let bytes = match self.store.get_recording(id).await? {
            Some(r) => tokio::fs::metadata(self.config.recordings_dir.join(&r.file))
                .await
                .map(|m| m.len() as i64)
                .unwrap_or(0),
            None => return Ok(()),
        };
        self.store
            .finish_recording(id, now, duration_ms, bytes)
            .await?;
        Ok(())
    }

    /// The recordings of meeting `id` that `viewer` may hear.
    pub async fn recordings_of(
        &self,
        meeting_id: &str,
        viewer: &str,
    ) -> Result<Vec<RecordingRow>, MeetingsError> {
        let rows = self.store.list_recordings(meeting_id).await?;
        Ok(rows.into_iter().filter(|r| may_hear(r, viewer)).collect())
    }

    /// A recording `viewer` may hear, with its file ([`MeetingsError::NotFound`] otherwise).
    pub async fn recording_for(
        &self,
        id: &str,
        viewer: &str,
    ) -> Result<(RecordingRow, std::path::PathBuf), MeetingsError> {
        let row = self
            .store
            .get_recording(id)
            .await?
            .filter(|r| may_hear(r, viewer))
            .ok_or(MeetingsError::NotFound)?;
        let path = self.config.recordings_dir.join(&row.file);
        Ok((row, path))
    }

    /// Deletes a recording (its organizer only) with its file.
    pub async fn delete_recording(&self, id: &str, user: &UserRow) -> Result<(), MeetingsError> {
        let (row, path) = self.recording_for(id, &user.sip_uri).await?;
        if row.organizer_id != user.id {
            return Err(MeetingsError::NotOrganizer);
        }
        self.remove_recording(&row, &path).await
    }

    async fn remove_recording(
        &self,
        row: &RecordingRow,
        path: &std::path::Path,
    ) -> Result<(), MeetingsError> {
        match tokio::fs::remove_file(path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(MeetingsError::Corrupt(format!(
                    "cannot delete {}: {e}",
                    path.display()
                )))
            }
        }
        self.store.delete_recording(&row.id).await?;
        Ok(())
    }

    /// Housekeeping: deletes expired meetings and recordings past the retention; how many
    /// of each.
    pub async fn purge(&self, now: i64) -> Result<(u64, u64), MeetingsError> {
        let meetings = self.purge_expired(now).await?;
        let days = i64::from(self.config.recording_retention_days);
        let mut recordings = 0;
        if days > 0 {
            let before = now - days * 24 * 3600 * 1000;
            loop {
                let old = self.store.recordings_started_before(before, 100).await?;
                if old.is_empty() {
                    break;
                }
                for r in &old {
                    let path = self.config.recordings_dir.join(&r.file);
                    self.remove_recording(r, &path).await?;
                    recordings += 1;
                }
            }
        }
        Ok((meetings, recordings))
    }

    /// A directory user by SIP URI (the voice menu's PIN owner).
    pub async fn user(&self, sip_uri: &str) -> Result<Option<UserRow>, MeetingsError> {
        Ok(self.store.get_user_by_sip_uri(sip_uri).await?)
    }

    /// Lifts a PIN lockout (an administrator's unlock).
    pub async fn unlock_pin(&self, user: &UserRow) -> Result<(), MeetingsError> {
        Ok(self.store.set_pin_lockout(user.id, None, 0).await?)
    }
}

/// `text` as `user`'s PIN under `policy`: refused when it appears in the user's own numbers
/// or extension (unless the policy allows common patterns).
pub fn pin_for_user(
    policy: &crate::domain::PinPolicy,
    user: &UserRow,
    text: &str,
) -> Result<Pin, DomainError> {
    let line: Option<LineUri> = user.line_uri.parse().ok();
    let mut numbers: Vec<E164> = [
        &user.phone_work,
        &user.phone_mobile,
        &user.phone_home,
        &user.phone_other,
    ]
    .iter()
    .filter_map(|p| p.parse().ok())
    .collect();
    numbers.extend(line.as_ref().map(|l| l.number().clone()));
    let extension = line.as_ref().and_then(LineUri::extension);
    Pin::new_for_user(policy, text, &numbers, extension)
}

/// Whether `viewer` is among those a recording was made for.
fn may_hear(row: &RecordingRow, viewer: &str) -> bool {
    serde_json::from_str::<Vec<String>>(&row.viewers)
        .map(|v| v.iter().any(|u| u.eq_ignore_ascii_case(viewer)))
        .unwrap_or(false)
}

fn read(row: crate::store::MeetingRow) -> Result<Meeting, MeetingsError> {
    let id = row.id.clone();
    Meeting::from_row(row).map_err(|e| MeetingsError::Corrupt(format!("meeting {id}: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
