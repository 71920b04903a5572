//! Meetings over HTTP (`docs/meetings.md`; UCWA `myOnlineMeetings`, `startOnlineMeeting`,
//! `phoneDialInInformation`):
//!
//! - `POST /api/v1/meetings` — schedule ([`Input`]); 201 with `Location`;
//! - `POST /api/v1/meetings/now` — Meet Now: an ad-hoc meeting (`subject` etc. optional);
//! - `GET /api/v1/meetings` — the meetings I organize;
//! - `GET`/`PATCH`/`DELETE /api/v1/meetings/{id}` — one meeting (organizer, leaders and
//!   attendees may read; only the organizer changes or deletes);
//! - `GET /api/v1/meetings/dial-in` — the conference bridge numbers and my PIN state;
//! - `PUT /api/v1/me/dial-in-pin` `{"pin": "…"}` or `{}` — set or generate my PIN;
//! - `POST /api/v1/meetings/{id}/join` — dial-out join: ViaWork rings my callback number
//!   with the Call Via Work caller ID and puts me in the meeting (or its lobby) when I
//!   answer; 201 with the call (`Location: /api/v1/calls/{call}`);
//! - `POST /api/v1/meetings/{id}/invite` `{"to"}` — a leader brings someone in: ViaWork
//!   rings them (with the leader's number) and puts them in the meeting when they answer;
//! - `POST /api/v1/calls/{id}/participants` `{"to"}` — escalation: my connected two-party
//!   call becomes a Meet Now meeting with both of us in it, and the third person is rung;
//! - `GET /api/v1/meetings/{id}/roster` — who is in the meeting, in the lobby, muted,
//!   speaking;
//! - `POST /api/v1/meetings/{id}/lock|unlock`,
//!   `POST /api/v1/meetings/{id}/participants/{pid}/mute|unmute|admit|remove` — leader
//!   controls (anyone may mute or unmute themselves);
//! - `POST`/`DELETE /api/v1/meetings/{id}/recording` — start (with an announcement to
//!   everyone) or stop recording (leaders); `GET /api/v1/meetings/{id}/recordings`,
//!   `GET`/`DELETE /api/v1/recordings/{rid}`, `GET /api/v1/recordings/{rid}/audio` (WAV) —
//!   for the organizer, leaders, attendees and those present when it started.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::meetings::roster::RosterError;
use crate::meetings::runtime::{Action, RosterView, RuntimeError};

use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::cli::rfc3339::format_ms;
use crate::meetings::{AccessLevel, BridgeNumber, Input, LeaderAssignment, Meeting, MeetingsError};

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/meetings", get(list).post(create))
        .route("/api/v1/meetings/now", post(meet_now))
        .route("/api/v1/meetings/dial-in", get(dial_in))
        .route(
            "/api/v1/meetings/{id}",
            get(show).patch(change).delete(remove),
        )
        .route("/api/v1/me/dial-in-pin", put(set_pin))
        .route("/api/v1/meetings/{id}/join", post(join))
        .route("/api/v1/meetings/{id}/invite", post(invite))
        .route("/api/v1/meetings/{id}/roster", get(roster))
        .route("/api/v1/meetings/{id}/lock", post(lock))
        .route("/api/v1/meetings/{id}/unlock", post(unlock))
        .route(
            "/api/v1/meetings/{id}/participants/{pid}/{action}",
            post(participant_action),
        )
        .route(
            "/api/v1/meetings/{id}/recording",
            post(start_recording).delete(stop_recording),
        )
        .route("/api/v1/meetings/{id}/recordings", get(recordings))
        .route(
            "/api/v1/recordings/{rid}",
            get(recording).delete(delete_recording),
        )
        .route("/api/v1/recordings/{rid}/audio", get(recording_audio))
        .route("/api/v1/calls/{id}/participants", post(escalate))
        .route(
            "/api/v1/admin/users/{sip_uri}/pin-lockout",
            get(pin_lockout).delete(unlock_pin),
        )
}

impl From<MeetingsError> for ApiError {
    fn from(e: MeetingsError) -> Self {
        let message = e.to_string();
        match e {
            MeetingsError::Invalid(d) => d.into(),
            MeetingsError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "NotFound", message),
            MeetingsError::NotOrganizer => {
                ApiError::new(StatusCode::FORBIDDEN, "NotOrganizer", message)
            }
            MeetingsError::TooMany { .. } => {
                ApiError::new(StatusCode::CONFLICT, "TooManyOnlineMeetings", message)
            }
            MeetingsError::Conflict => {
                ApiError::new(StatusCode::CONFLICT, "Conflict", message).with_field("updated_at")
            }
            MeetingsError::DialInNotEnabled => {
                ApiError::new(StatusCode::FORBIDDEN, "DialInNotEnabled", message)
            }
            MeetingsError::Store(s) => s.into(),
            MeetingsError::Corrupt(detail) => ApiError::internal(detail),
        }
    }
}

/// A meeting as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeetingView {
    /// The meeting's id.
    id: String,
    /// Subject line.
    subject: String,
    /// Description.
    description: String,
    /// Organizer's SIP URI.
    organizer: String,
    /// My part: `organizer`, `leader` or `attendee`.
    role: &'static str,
    /// Scheduled start (RFC 3339); `null` for Meet Now.
    start_time: Option<String>,
    /// Scheduled end.
    end_time: Option<String>,
    /// When it may be deleted.
    expiration_time: String,
    /// Meet Now.
    ad_hoc: bool,
    /// What dial-in callers type.
    conference_id: String,
    /// Where a browser joins.
    join_url: String,
    /// Conference bridge numbers to dial in on.
    dial_in: Vec<BridgeNumber>,
    /// Invited people.
    attendees: Vec<String>,
    /// Leaders besides the organizer.
    leaders: Vec<String>,
    /// Who gets in without the lobby.
    access_level: AccessLevel,
    /// Who is promoted to leader on joining.
    automatic_leader_assignment: LeaderAssignment,
    /// Names of phone participants announced on entry and exit.
    entry_exit_announcement: bool,
    /// Anonymous phone callers skip the lobby (unless locked).
    lobby_bypass_for_phone_users: bool,
    /// Joinable through the conference bridge.
    phone_user_admission: bool,
    /// Created (RFC 3339).
    created_at: String,
    /// Last changed (RFC 3339).
    updated_at: String,
    /// `self`.
    links: MeetingLinks,
}

/// Part of [`MeetingView`].
#[derive(Serialize, utoipa::ToSchema)]
struct MeetingLinks {
    #[serde(rename = "self")]
    this: String,
}

fn view(state: &AppState, m: &Meeting, me: &str) -> MeetingView {
    let svc = &state.meetings;
    let role = if m.organizer.eq_ignore_ascii_case(me) {
        "organizer"
    } else if m.is_named_leader(me) {
        "leader"
    } else {
        "attendee"
    };
    MeetingView {
        id: m.id.clone(),
        subject: m.subject.clone(),
        description: m.description.clone(),
        organizer: m.organizer.clone(),
        role,
        start_time: m.starts_at.map(format_ms),
        end_time: m.ends_at.map(format_ms),
        expiration_time: format_ms(m.expires_at),
        ad_hoc: m.ad_hoc,
        conference_id: m.conference_id.clone(),
        join_url: svc.join_url(m),
        dial_in: if m.settings.phone_user_admission {
            svc.config().bridge_numbers.clone()
        } else {
            Vec::new()
        },
        attendees: m.settings.attendees.clone(),
        leaders: m.settings.leaders.clone(),
        access_level: m.settings.access_level,
        automatic_leader_assignment: m.settings.automatic_leader_assignment,
        entry_exit_announcement: m.settings.entry_exit_announcement,
        lobby_bypass_for_phone_users: m.settings.lobby_bypass_for_phone_users,
        phone_user_admission: m.settings.phone_user_admission,
        created_at: format_ms(m.created_at),
        updated_at: format_ms(m.updated_at),
        links: MeetingLinks {
            this: format!("/api/v1/meetings/{}", m.id),
        },
    }
}

/// Tells the organizer's clients (other tabs, other devices) that a meeting was created or
/// changed: `meeting.updated` with its view.
fn announce(state: &AppState, m: &Meeting, me: &str) {
    state
        .events
        .publish(me, "meeting.updated", &view(state, m, me));
}

fn created(state: &AppState, m: &Meeting, me: &str) -> impl IntoResponse {
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/meetings/{}", m.id))],
        Json(view(state, m, me)),
    )
}

/// Schedules a meeting; I am its organizer.
#[utoipa::path(
    post,
    path = "/api/v1/meetings",
    tag = "meetings",
    security(("bearer" = [])),
    request_body = Input,
    responses(
        (status = 201, description = "The meeting; `Location` names it", body = MeetingView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`TooManyOnlineMeetings`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<Input>,
) -> Result<impl IntoResponse, ApiError> {
    let now = crate::store::unix_now_ms();
    let m = state.meetings.create(&me.user, input, false, now).await?;
    announce(&state, &m, &me.user.sip_uri);
    Ok(created(&state, &m, &me.user.sip_uri))
}

/// What Meet Now accepts: a scheduled meeting's settings without times.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MeetNow {
    subject: Option<String>,
    description: Option<String>,
    attendees: Option<Vec<String>>,
    leaders: Option<Vec<String>>,
    access_level: Option<AccessLevel>,
    automatic_leader_assignment: Option<LeaderAssignment>,
    entry_exit_announcement: Option<bool>,
    lobby_bypass_for_phone_users: Option<bool>,
    phone_user_admission: Option<bool>,
}

/// Meet Now: starts an ad-hoc meeting (kept 8 hours) that I organize.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/now",
    tag = "meetings",
    security(("bearer" = [])),
    request_body = MeetNow,
    responses(
        (status = 201, description = "The meeting; `Location` names it", body = MeetingView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`TooManyOnlineMeetings`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn meet_now(
    State(state): State<AppState>,
    me: CurrentUser,
    body: Option<ApiJson<MeetNow>>,
) -> Result<impl IntoResponse, ApiError> {
    let b = body.map(|ApiJson(b)| b).unwrap_or_default();
    let input = Input {
        subject: b.subject,
        description: b.description,
        attendees: b.attendees,
        leaders: b.leaders,
        access_level: b.access_level,
        automatic_leader_assignment: b.automatic_leader_assignment,
        entry_exit_announcement: b.entry_exit_announcement,
        lobby_bypass_for_phone_users: b.lobby_bypass_for_phone_users,
        phone_user_admission: b.phone_user_admission,
        ..Input::default()
    };
    let now = crate::store::unix_now_ms();
    let m = state.meetings.create(&me.user, input, true, now).await?;
    announce(&state, &m, &me.user.sip_uri);
    Ok(created(&state, &m, &me.user.sip_uri))
}

/// What `GET /api/v1/meetings` answers.
#[derive(Serialize, utoipa::ToSchema)]
struct MeetingList {
    meetings: Vec<MeetingView>,
}

/// The meetings I organize, soonest first, Meet Now last.
#[utoipa::path(
    get,
    path = "/api/v1/meetings",
    tag = "meetings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "My meetings", body = MeetingList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<MeetingList>, ApiError> {
    let list = state.meetings.list(&me.user).await?;
    Ok(Json(MeetingList {
        meetings: list
            .iter()
            .map(|m| view(&state, m, &me.user.sip_uri))
            .collect(),
    }))
}

/// One meeting I organize, lead or attend.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/{id}",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 200, description = "The meeting", body = MeetingView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting, or not mine to see", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<MeetingView>, ApiError> {
    let m = state.meetings.get_for(&id, &me.user.sip_uri).await?;
    Ok(Json(view(&state, &m, &me.user.sip_uri)))
}

/// Changes the given settings of a meeting I organize.
#[utoipa::path(
    patch,
    path = "/api/v1/meetings/{id}",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    request_body = Input,
    responses(
        (status = 200, description = "The changed meeting", body = MeetingView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotOrganizer`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: changed meanwhile", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn change(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Input>,
) -> Result<Json<MeetingView>, ApiError> {
    let now = crate::store::unix_now_ms();
    let m = state.meetings.update(&id, &me.user, input, now).await?;
    announce(&state, &m, &me.user.sip_uri);
    Ok(Json(view(&state, &m, &me.user.sip_uri)))
}

/// Deletes a meeting I organize.
#[utoipa::path(
    delete,
    path = "/api/v1/meetings/{id}",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotOrganizer`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.meetings.delete(&id, &me.user).await?;
    // The organizer's other clients drop it from their lists.
    state.events.publish(
        &me.user.sip_uri,
        "meeting.deleted",
        &serde_json::json!({ "id": id }),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// What `GET /api/v1/meetings/dial-in` answers (UCWA `phoneDialInInformation`).
#[derive(Serialize, utoipa::ToSchema)]
struct DialInView {
    /// Conference bridge numbers.
    bridge_numbers: Vec<BridgeNumber>,
    /// Whether I may authenticate on the bridge with a PIN.
    dial_in_conferencing: bool,
    /// Whether I have a PIN.
    pin_set: bool,
    /// The PIN policy's minimum length.
    pin_min_length: usize,
    /// Wrong PINs typed for me since my last right one (someone guessing shows here).
    pin_failed_attempts: i64,
    /// My PIN is locked: until then (RFC 3339), or `"until_unlocked"` by an administrator.
    pin_locked: Option<String>,
}

/// The conference bridge numbers and my dial-in PIN state.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/dial-in",
    tag = "meetings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Bridge numbers and PIN state", body = DialInView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn dial_in(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<DialInView>, ApiError> {
    let c = state.meetings.config();
    // From the store, not the directory cache: a PIN set a moment ago shows at once.
    let user = state
        .store
        .get_user(me.user.id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the account no longer exists"))?;
    let lockout = state.store.get_pin_lockout(user.id).await?;
    let pin_locked = lock_text(lockout.as_ref());
    Ok(Json(DialInView {
        bridge_numbers: c.bridge_numbers.clone(),
        dial_in_conferencing: user.dial_in_conferencing,
        pin_set: user.pin_hash.is_some(),
        pin_min_length: c.pin_policy.min_length(),
        pin_failed_attempts: lockout.map_or(0, |l| l.total_failures),
        pin_locked,
    }))
}

/// A PIN lock as the API shows it now: until when (RFC 3339), `"until_unlocked"`, or
/// `None` when the PIN may be tried.
fn lock_text(row: Option<&crate::store::PinLockoutRow>) -> Option<String> {
    use crate::meetings::pin_lockout::{state, State};
    match state(row, crate::store::unix_now_ms()) {
        State::Open => None,
        State::LockedUntil(t) => Some(format_ms(t)),
        State::LockedOut => Some("until_unlocked".to_owned()),
    }
}

/// What `PUT /api/v1/me/dial-in-pin` accepts.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PinInput {
    /// The new PIN (digits, policy length, no common patterns); absent: generate one.
    pin: Option<String>,
}

/// What `PUT /api/v1/me/dial-in-pin` answers.
#[derive(Serialize, utoipa::ToSchema)]
struct PinSet {
    /// The generated PIN, shown this once; `null` when I chose it.
    pin: Option<String>,
}

/// Sets my dial-in PIN, or generates one; lifts a lockout.
#[utoipa::path(
    put,
    path = "/api/v1/me/dial-in-pin",
    tag = "meetings",
    security(("bearer" = [])),
    request_body = PinInput,
    responses(
        (status = 200, description = "Set; a generated PIN is in `pin`", body = PinSet),
        (status = 400, description = "The PIN breaks the policy (field `pin`)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`DialInNotEnabled`", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`Conflict`: my account changed meanwhile", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn set_pin(
    State(state): State<AppState>,
    me: CurrentUser,
    body: Option<ApiJson<PinInput>>,
) -> Result<Json<PinSet>, ApiError> {
    let input = body.map(|ApiJson(b)| b).unwrap_or_default();
    let (_, generated) = state
        .meetings
        .set_pin(&me.user, input.pin.as_deref())
        .await?;
    Ok(Json(PinSet { pin: generated }))
}

/// What `POST /api/v1/meetings/{id}/join` accepts.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    /// The number to ring instead of my usual one, if my policy lets me choose.
    callback_number: Option<String>,
}

/// Joins a meeting by dial-out: my phone rings with the Call Via Work caller ID; when I
/// answer I am in the meeting, or in its lobby.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/join",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id (from its join URL)")),
    request_body = JoinRequest,
    responses(
        (status = 201, description = "My phone is being rung; `Location` names the call (direction `meeting`)", body = crate::calls::CallView),
        (status = 400, description = "A bad body (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`DialoutNotAllowed` or `PhoneNumberConflict`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 429, description = "Over the per-minute call limit", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No trunk or media engine, or overloaded", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn join(
    State(state): State<AppState>,
    _slot: super::calls::SetupSlot,
    me: CurrentUser,
    Path(id): Path<String>,
    body: Option<ApiJson<JoinRequest>>,
) -> Result<impl IntoResponse, ApiError> {
    let req = body.map(|ApiJson(b)| b).unwrap_or_default();
    // The join URL is the capability: anyone signed in who has it may ask; the meeting's
    // access level decides between the meeting and its lobby.
    let m = state
        .meetings
        .get(&id)
        .await?
        .ok_or(MeetingsError::NotFound)?;
    let view = super::calls::start_call(
        &state,
        &me.user,
        req.callback_number.as_deref(),
        super::calls::FarEnd::Meeting {
            id: m.id.clone(),
            conference_id: m.conference_id.clone(),
        },
    )
    .await?;
    let location = format!("/api/v1/calls/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

fn runtime(state: &AppState) -> Result<&crate::meetings::MeetingsRuntime, ApiError> {
    state.meetings_runtime.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "meetings need the media engine and a PBX trunk",
        )
    })
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        let message = e.to_string();
        match e {
            RuntimeError::NotRunning => {
                ApiError::new(StatusCode::CONFLICT, "NotInProgress", message)
            }
            RuntimeError::Roster(RosterError::NotLeader) => {
                ApiError::new(StatusCode::FORBIDDEN, "NotLeader", message)
            }
            RuntimeError::Roster(RosterError::NoParticipant) => {
                ApiError::new(StatusCode::NOT_FOUND, "NoSuchParticipant", message).with_field("pid")
            }
            RuntimeError::Stopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            ),
            RuntimeError::Recording(detail) => ApiError::internal(detail),
        }
    }
}

/// Who may see a meeting's roster: those invited, and anyone in it.
async fn may_watch(state: &AppState, id: &str, user: &str) -> Result<Option<RosterView>, ApiError> {
    let m = state
        .meetings
        .get(id)
        .await?
        .ok_or(MeetingsError::NotFound)?;
    let roster = runtime(state)?.roster(id).await?;
    let present = roster.as_ref().is_some_and(|r| {
        r.participants.iter().any(|p| {
            p.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user))
        })
    });
    if m.is_invited(user) || present {
        Ok(roster)
    } else {
        Err(MeetingsError::NotFound.into())
    }
}

/// Who is in the meeting now: in or in the lobby, leader, muted, speaking. Empty when
/// nobody is.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/{id}/roster",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 200, description = "The roster", body = RosterView),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting, or not mine to see", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No media engine", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn roster(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<RosterView>, ApiError> {
    let r = may_watch(&state, &id, &me.user.sip_uri).await?;
    Ok(Json(r.unwrap_or(RosterView {
        meeting_id: id,
        locked: false,
        recording: false,
        participants: Vec::new(),
    })))
}

async fn act(
    state: &AppState,
    id: &str,
    me: &CurrentUser,
    action: Action,
) -> Result<StatusCode, ApiError> {
    may_watch(state, id, &me.user.sip_uri).await?;
    runtime(state)?.act(id, &me.user.sip_uri, action).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Locks the meeting: newcomers who are not leaders wait in the lobby (leaders).
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/lock",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 204, description = "Locked"),
        (status = 403, description = "`NotLeader`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn lock(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &id, &me, Action::Lock(true)).await
}

/// Unlocks the meeting (leaders).
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/unlock",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 403, description = "`NotLeader`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unlock(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &id, &me, Action::Lock(false)).await
}

/// A leader's control over a participant — `mute`, `unmute`, `admit` (from the lobby),
/// `remove` — or muting myself.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/participants/{pid}/{action}",
    tag = "meetings",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The meeting's id"),
        ("pid" = u64, Path, description = "The participant's id in the roster"),
        ("action" = String, Path, description = "`mute`, `unmute`, `admit` or `remove`"),
    ),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "An unknown action or participant id (field `action` or `pid`)", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotLeader`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting or participant", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn participant_action(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, pid, action)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let pid: u64 = pid
        .parse()
        .map_err(|_| ApiError::bad_request("pid", "a participant id from the roster"))?;
    let action = match action.as_str() {
        "mute" => Action::Mute(pid, true),
        "unmute" => Action::Mute(pid, false),
        "admit" => Action::Admit(pid),
        "remove" => Action::Remove(pid),
        _ => {
            return Err(ApiError::bad_request(
                "action",
                "one of mute, unmute, admit, remove",
            ))
        }
    };
    act(&state, &id, &me, action).await
}

/// Starts recording the meeting (leaders): everyone hears "This meeting is being
/// recorded", which is in the recording too.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/recording",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 204, description = "Recording"),
        (status = 403, description = "`NotLeader`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn start_recording(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &id, &me, Action::Record(true)).await
}

/// Stops recording the meeting (leaders).
#[utoipa::path(
    delete,
    path = "/api/v1/meetings/{id}/recording",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 204, description = "Stopped (or was not recording)"),
        (status = 403, description = "`NotLeader`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn stop_recording(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &id, &me, Action::Record(false)).await
}

/// A recording as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct RecordingView {
    /// The recording's id.
    id: String,
    /// The meeting recorded.
    meeting_id: String,
    /// The meeting's subject then.
    subject: String,
    /// RFC 3339.
    started_at: String,
    /// RFC 3339; `null` while recording.
    ended_at: Option<String>,
    /// Length of the audio.
    duration_ms: i64,
    /// Size of the WAV file.
    bytes: i64,
    /// `self` and `audio`.
    links: RecordingLinks,
}

/// Part of [`RecordingView`].
#[derive(Serialize, utoipa::ToSchema)]
struct RecordingLinks {
    #[serde(rename = "self")]
    this: String,
    /// The WAV file.
    audio: String,
}

fn recording_view(r: &crate::store::RecordingRow) -> RecordingView {
    RecordingView {
        id: r.id.clone(),
        meeting_id: r.meeting_id.clone(),
        subject: r.subject.clone(),
        started_at: format_ms(r.started_at),
        ended_at: r.ended_at.map(format_ms),
        duration_ms: r.duration_ms,
        bytes: r.bytes,
        links: RecordingLinks {
            this: format!("/api/v1/recordings/{}", r.id),
            audio: format!("/api/v1/recordings/{}/audio", r.id),
        },
    }
}

/// What `GET /api/v1/meetings/{id}/recordings` answers.
#[derive(Serialize, utoipa::ToSchema)]
struct RecordingList {
    recordings: Vec<RecordingView>,
}

/// The recordings of a meeting that I may hear, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/{id}/recordings",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    responses(
        (status = 200, description = "The recordings", body = RecordingList),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn recordings(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<RecordingList>, ApiError> {
    let rows = state.meetings.recordings_of(&id, &me.user.sip_uri).await?;
    Ok(Json(RecordingList {
        recordings: rows.iter().map(recording_view).collect(),
    }))
}

/// One recording I may hear.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{rid}",
    tag = "meetings",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The recording", body = RecordingView),
        (status = 404, description = "No such recording, or not mine to hear", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn recording(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(rid): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    let (row, _) = state.meetings.recording_for(&rid, &me.user.sip_uri).await?;
    Ok(Json(recording_view(&row)))
}

/// Deletes a recording and its file (the meeting's organizer).
#[utoipa::path(
    delete,
    path = "/api/v1/recordings/{rid}",
    tag = "meetings",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "The recording's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`NotOrganizer`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such recording, or not mine to hear", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn delete_recording(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(rid): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.meetings.delete_recording(&rid, &me.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The recording's audio: a WAV file (16-bit PCM, 8 kHz, mono), streamed.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{rid}/audio",
    tag = "meetings",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "`audio/wav`", content_type = "audio/wav"),
        (status = 404, description = "No such recording, or not mine to hear", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`StillRecording`", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn recording_audio(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(rid): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let (row, path) = state.meetings.recording_for(&rid, &me.user.sip_uri).await?;
    if row.ended_at.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "StillRecording",
            "the recording is not finished yet",
        ));
    }
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::from(MeetingsError::NotFound))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name = format!("meeting-{}-{}.wav", row.meeting_id, row.id);
    axum::response::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(axum::body::Body::from_stream(stream))
        .map_err(ApiError::internal)
}

/// What `POST /api/v1/meetings/{id}/invite` accepts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    /// Who to bring in: a `sip:` URI of a colleague, a `tel:` URI or digits.
    to: String,
}

/// Brings someone into the running meeting (leaders): ViaWork rings them with my number
/// and name as caller ID and, when they answer, puts them in the meeting past the lobby.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{id}/invite",
    tag = "meetings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The meeting's id")),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "They are being rung; `Location` names the call (mine, direction `meeting`)", body = crate::calls::CallView),
        (status = 400, description = "A bad body, or `NormalizationFailed` on `to`", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`NotLeader`, `DialoutNotAllowed`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such meeting", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`NotInProgress`", body = crate::api::openapi::ErrorResponse),
        (status = 429, description = "Over the per-minute call limit", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn invite(
    State(state): State<AppState>,
    _slot: super::calls::SetupSlot,
    me: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let m = state
        .meetings
        .get(&id)
        .await?
        .ok_or(MeetingsError::NotFound)?;
    let roster = runtime(&state)?
        .roster(&id)
        .await?
        .ok_or(RuntimeError::NotRunning)?;
    let leads_here = roster.participants.iter().any(|p| {
        p.leader
            && p.place == crate::meetings::roster::Place::In
            && p.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(&me.user.sip_uri))
    });
    if !(leads_here || m.is_named_leader(&me.user.sip_uri)) {
        return Err(RuntimeError::Roster(RosterError::NotLeader).into());
    }
    let view = super::calls::start_call(
        &state,
        &me.user,
        None,
        super::calls::FarEnd::Invite {
            id: m.id.clone(),
            to: req.to,
        },
    )
    .await?;
    let location = format!("/api/v1/calls/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

/// What `POST /api/v1/calls/{id}/participants` answers.
#[derive(Serialize, utoipa::ToSchema)]
struct Escalated {
    /// The meeting the call became.
    meeting: MeetingView,
    /// The call ringing the third person (mine, direction `meeting`).
    invitation: crate::calls::CallView,
}

/// Adds a third person to my connected call: it becomes a Meet Now meeting with both
/// parties in it (their audio moves to ViaWork's mixer; a call whose media ran phone to
/// phone is first re-anchored by a re-INVITE to each phone), and ViaWork rings the third
/// person with my number and puts them in when they answer.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/participants",
    tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "The meeting and the invitation; `Location` names the meeting", body = Escalated),
        (status = 400, description = "A bad body, or `NormalizationFailed` on `to`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such call", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "`CallNotConnected`, `CallBusy`, `NotSupported` or `MediaNotAnchored`", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "No media engine or trunk", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn escalate(
    State(state): State<AppState>,
    _slot: super::calls::SetupSlot,
    me: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let rt = runtime(&state)?;
    let api = state.calls.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "no call service",
        )
    })?;
    let call = api
        .handle
        .get(&id, &me.user.sip_uri)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("no such call"))?;
    if call.direction != "outbound" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "NotSupported",
            "only a Call Via Work call can become a meeting",
        ));
    }
    // Who the far party is: a colleague by SIP URI, or the number dialled.
    let far_user = super::calls::directory_user(&state.directory, &call.to).await?;
    let far_name = far_user
        .as_ref()
        .map(|u| u.display_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| call.to_number.clone());
    let input = Input {
        subject: Some(format!("Call with {far_name}")),
        attendees: far_user.as_ref().map(|u| vec![u.sip_uri.clone()]),
        ..Input::default()
    };
    // Media phone to phone: new engine streams to re-anchor the call on first.
    let (streams, relocal) = if call.media == "direct" {
        let (streams, local) = api.media.open_call().await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                e.to_string(),
            )
        })?;
        (Some(streams), Some(local))
    } else {
        (None, None)
    };
    let now = crate::store::unix_now_ms();
    let m = state.meetings.create(&me.user, input, true, now).await?;
    let escalation = crate::calls::Escalation {
        meeting_id: m.id.clone(),
        user: (
            me.user.sip_uri.to_ascii_lowercase(),
            me.user.display_name.clone(),
        ),
        far: (far_user.map(|u| u.sip_uri.to_ascii_lowercase()), far_name),
        to: rt.calls_sender(),
        relocal,
    };
    let moved = api
        .handle
        .control_with_streams(
            &id,
            &me.user.sip_uri,
            crate::calls::Control::Escalate(Box::new(escalation)),
            streams,
        )
        .await
        .map_err(ApiError::internal)?;
    let refused = match moved {
        None => Some(ApiError::not_found("no such call")),
        Some(Err(e)) => Some(super::calls::control_error(e)),
        Some(Ok(_)) => None,
    };
    if let Some(e) = refused {
        // The call stays as it was; the meeting made for it goes.
        let _ = state.meetings.delete(&m.id, &me.user).await;
        return Err(e);
    }
    let invitation = super::calls::start_call(
        &state,
        &me.user,
        None,
        super::calls::FarEnd::Invite {
            id: m.id.clone(),
            to: req.to,
        },
    )
    .await?;
    let location = format!("/api/v1/meetings/{}", m.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Escalated {
            meeting: view(&state, &m, &me.user.sip_uri),
            invitation,
        }),
    ))
}

/// A user's dial-in PIN lockout, as an administrator sees it.
#[derive(Serialize, utoipa::ToSchema)]
struct PinLockoutView {
    /// The user.
    sip_uri: String,
    /// Wrong PINs since the last right one.
    failed_attempts: i64,
    /// Wrong PINs in the current 30-minute window.
    window_failures: i64,
    /// Locked until then (RFC 3339), `"until_unlocked"`, or `null` when not locked.
    locked: Option<String>,
}

async fn admin_target(state: &AppState, sip_uri: &str) -> Result<crate::store::UserRow, ApiError> {
    state
        .meetings
        .user(&sip_uri.to_ascii_lowercase())
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))
}

/// A user's failed dial-in PIN attempts and lock (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{sip_uri}/pin-lockout",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    responses(
        (status = 200, description = "The counters", body = PinLockoutView),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such user", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn pin_lockout(
    State(state): State<AppState>,
    _: super::AdminUser,
    Path(sip_uri): Path<String>,
) -> Result<Json<PinLockoutView>, ApiError> {
    let user = admin_target(&state, &sip_uri).await?;
    let row = state.store.get_pin_lockout(user.id).await?;
    let locked = lock_text(row.as_ref());
    Ok(Json(PinLockoutView {
        sip_uri: user.sip_uri,
        failed_attempts: row.map_or(0, |r| r.total_failures),
        window_failures: row.map_or(0, |r| r.window_failures),
        locked,
    }))
}

/// Unlocks a user's dial-in PIN and forgets their failed attempts (administrators; Skype's
/// global lockout needs this).
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{sip_uri}/pin-lockout",
    tag = "admin",
    security(("bearer" = [])),
    params(("sip_uri" = String, Path, description = "The user's SIP URI")),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 403, description = "Not an administrator", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such user", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn unlock_pin(
    State(state): State<AppState>,
    _: super::AdminUser,
    Path(sip_uri): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = admin_target(&state, &sip_uri).await?;
    state.meetings.unlock_pin(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}
