//! The signed-in user's contact list and contact groups (UCWA `myContacts`, `myGroups`):
//!
//! | Route | Does |
//! |---|---|
//! | `GET /api/v1/me/contacts` | the list, with the groups and the limits |
//! | `POST /api/v1/me/contacts` `{"uri", "groups"?, "name"?}` | adds a directory user (`sip:`) or a number (`tel:+…`); 201 |
//! | `DELETE /api/v1/me/contacts/{uri}` | removes one; 204 |
//! | `GET /api/v1/me/groups` | the groups, Other Contacts first |
//! | `POST /api/v1/me/groups` `{"name"}` | creates a group; 201 |
//! | `PATCH /api/v1/me/groups/{id}` `{"name"}` | renames it |
//! | `DELETE /api/v1/me/groups/{id}` | removes it (its contacts stay); 204 |
//! | `PUT /api/v1/me/groups/{id}/contacts/{uri}` | puts a listed contact in the group; 204 |
//! | `DELETE /api/v1/me/groups/{id}/contacts/{uri}` | takes it out; 204 |
//!
//! Group ids are strings: a number, or `other` for the default group Other Contacts. The
//! rules (duplicates, limits, the default group) are [`crate::people::Contacts`]'s; errors:
//! 400 naming the field, 404 for an unknown user, contact or group, 409 `AlreadyExists`,
//! `TooManyContacts`, `TooManyGroups` or `DefaultGroup`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::people::Card;
use super::{ApiError, ApiJson, AppState, CurrentUser};
use crate::people::contacts::{MAX_CONTACTS, MAX_GROUPS, OTHER_CONTACTS_ID, OTHER_CONTACTS_NAME};
use crate::people::{Contact, ContactList, ContactsError, GroupId};
use crate::store::ContactGroupRow;

/// The routes of this file.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/contacts", get(list).post(add))
        .route("/api/v1/me/contacts/{uri}", axum::routing::delete(remove))
        .route("/api/v1/me/groups", get(groups).post(create_group))
        .route(
            "/api/v1/me/groups/{id}",
            axum::routing::patch(rename_group).delete(remove_group),
        )
        .route(
            "/api/v1/me/groups/{id}/contacts/{uri}",
            put(add_to_group).delete(remove_from_group),
        )
}

impl From<ContactsError> for ApiError {
    fn from(e: ContactsError) -> Self {
        let field = e.field();
        let message = e.to_string();
        let err = match e {
            ContactsError::Store(s) => return ApiError::from(s),
            ContactsError::Invalid { field, message } => {
                return ApiError::bad_request(field, message)
            }
            ContactsError::UnknownUser(_)
            | ContactsError::UnknownContact(_)
            | ContactsError::UnknownGroup { .. }
            | ContactsError::NotInGroup => ApiError::not_found(message),
            ContactsError::Duplicate(_) | ContactsError::DuplicateGroup(_) => {
                ApiError::new(StatusCode::CONFLICT, "AlreadyExists", message)
            }
            ContactsError::DefaultGroup => {
                ApiError::new(StatusCode::CONFLICT, "DefaultGroup", message)
            }
            ContactsError::Limit { what: "groups", .. } => {
                ApiError::new(StatusCode::CONFLICT, "TooManyGroups", message)
            }
            ContactsError::Limit { .. } => {
                ApiError::new(StatusCode::CONFLICT, "TooManyContacts", message)
            }
        };
        match field {
            Some(f) => err.with_field(f),
            None => err,
        }
    }
}

/// A contact as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Contact)]
#[serde(rename_all = "camelCase")]
struct ContactJson {
    uri: String,
    /// `user` or `phone`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    /// The directory name, or the name given to a phone contact.
    name: String,
    /// Group ids (`other` when in none).
    groups: Vec<String>,
    /// False for a directory user who has been disabled.
    enabled: bool,
    /// The directory card of a user contact.
    person: Option<Card>,
}

impl From<&Contact> for ContactJson {
    fn from(c: &Contact) -> Self {
        let groups = if c.row.groups.is_empty() {
            vec![OTHER_CONTACTS_ID.to_owned()]
        } else {
            c.row.groups.iter().map(i64::to_string).collect()
        };
        ContactJson {
            uri: c.row.uri.clone(),
            kind: if c.row.user_id.is_some() {
                "user"
            } else {
                "phone"
            },
            name: match &c.person {
                Some(p) => p.display_name.clone(),
                None => c.row.name.clone(),
            },
            groups,
            enabled: c.person.as_ref().is_none_or(|p| p.enabled),
            person: c.person.as_ref().map(Card::from),
        }
    }
}

/// A group as listed, with its members' URIs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct GroupJson {
    id: String,
    name: String,
    /// True for Other Contacts.
    default: bool,
    contacts: Vec<String>,
}

fn group_json(g: &ContactGroupRow, contacts: &[Contact]) -> GroupJson {
    GroupJson {
        id: g.id.to_string(),
        name: g.name.clone(),
        default: false,
        contacts: contacts
            .iter()
            .filter(|c| c.row.groups.contains(&g.id))
            .map(|c| c.row.uri.clone())
            .collect(),
    }
}

fn all_groups(list: &ContactList) -> Vec<GroupJson> {
    let other = GroupJson {
        id: OTHER_CONTACTS_ID.to_owned(),
        name: OTHER_CONTACTS_NAME.to_owned(),
        default: true,
        contacts: list
            .contacts
            .iter()
            .filter(|c| c.row.groups.is_empty())
            .map(|c| c.row.uri.clone())
            .collect(),
    };
    std::iter::once(other)
        .chain(list.groups.iter().map(|g| group_json(g, &list.contacts)))
        .collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ContactLimits)]
struct Limits {
    contacts: i64,
    groups: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ListJson {
    contacts: Vec<ContactJson>,
    groups: Vec<GroupJson>,
    limits: Limits,
}

/// The contact list: contacts, groups and limits.
#[utoipa::path(
    get,
    path = "/api/v1/me/contacts",
    tag = "contacts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The contact list", body = ListJson),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ListJson>, ApiError> {
    let list = state.contacts.list(user.user.id).await?;
    Ok(Json(ListJson {
        contacts: list.contacts.iter().map(ContactJson::from).collect(),
        groups: all_groups(&list),
        limits: Limits {
            contacts: MAX_CONTACTS,
            groups: MAX_GROUPS,
        },
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddContact {
    uri: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Adds a contact: a directory user or a phone number.
#[utoipa::path(
    post,
    path = "/api/v1/me/contacts",
    tag = "contacts",
    security(("bearer" = [])),
    request_body = AddContact,
    responses(
        (status = 201, description = "The contact", body = ContactJson),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`LimitExceeded`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "Already there", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<AddContact>,
) -> Result<(StatusCode, Json<ContactJson>), ApiError> {
    let groups = body
        .groups
        .iter()
        .map(|g| GroupId::parse("groups", g))
        .collect::<Result<Vec<_>, _>>()?;
    let contact = state
        .contacts
        .add(user.user.id, &body.uri, &groups, body.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(ContactJson::from(&contact))))
}

/// Removes a contact.
#[utoipa::path(
    delete,
    path = "/api/v1/me/contacts/{uri}",
    tag = "contacts",
    security(("bearer" = [])),
    params(("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(uri): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.contacts.remove(user.user.id, &uri).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct GroupsJson {
    groups: Vec<GroupJson>,
}

/// The groups, Other Contacts first.
#[utoipa::path(
    get,
    path = "/api/v1/me/groups",
    tag = "contacts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The groups", body = GroupsJson),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn groups(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<GroupsJson>, ApiError> {
    let list = state.contacts.list(user.user.id).await?;
    Ok(Json(GroupsJson {
        groups: all_groups(&list),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GroupName {
    name: String,
}

/// Creates a group.
#[utoipa::path(
    post,
    path = "/api/v1/me/groups",
    tag = "contacts",
    security(("bearer" = [])),
    request_body = GroupName,
    responses(
        (status = 201, description = "The group", body = GroupJson),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`LimitExceeded`", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "Already there", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn create_group(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<GroupName>,
) -> Result<(StatusCode, Json<GroupJson>), ApiError> {
    let group = state
        .contacts
        .create_group(user.user.id, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(group_json(&group, &[]))))
}

/// Renames a group.
#[utoipa::path(
    patch,
    path = "/api/v1/me/groups/{id}",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A group id (`other` is Other Contacts)")),
    request_body = GroupName,
    responses(
        (status = 200, description = "The group", body = GroupJson),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 409, description = "Already there", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn rename_group(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupName>,
) -> Result<Json<GroupJson>, ApiError> {
    let id = GroupId::parse("id", &id)?;
    let group = state
        .contacts
        .rename_group(user.user.id, id, &body.name)
        .await?;
    let list = state.contacts.list(user.user.id).await?;
    Ok(Json(group_json(&group, &list.contacts)))
}

/// Deletes a group (its contacts stay in the list).
#[utoipa::path(
    delete,
    path = "/api/v1/me/groups/{id}",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A group id (`other` is Other Contacts)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove_group(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = GroupId::parse("id", &id)?;
    state.contacts.remove_group(user.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts a contact in a group.
#[utoipa::path(
    put,
    path = "/api/v1/me/groups/{id}/contacts/{uri}",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A group id (`other` is Other Contacts)"), ("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 403, description = "`LimitExceeded`", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn add_to_group(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, uri)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = GroupId::parse("id", &id)?;
    state.contacts.add_to_group(user.user.id, id, &uri).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a contact out of a group.
#[utoipa::path(
    delete,
    path = "/api/v1/me/groups/{id}/contacts/{uri}",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A group id (`other` is Other Contacts)"), ("uri" = String, Path, description = "A SIP URI (`sip:bob@example.com`)")),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "A bad body, path or parameter (the field is named)", body = crate::api::openapi::ErrorResponse),
        (status = 401, description = "No valid bearer token", body = crate::api::openapi::ErrorResponse),
        (status = 404, description = "No such contact, group or person", body = crate::api::openapi::ErrorResponse),
        (status = 503, description = "The store is unavailable", body = crate::api::openapi::ErrorResponse),
    )
)]
async fn remove_from_group(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, uri)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = GroupId::parse("id", &id)?;
    state
        .contacts
        .remove_from_group(user.user.id, id, &uri)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
