//! The admin subcommands' arguments (clap) and [`run`], which calls one service function per
//! command and prints its result. `main.rs` flattens [`AdminCommand`] next to `serve`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::call_log::{self, Audience, CallLogFilter, Cursor};
use super::dialplan::{self, RuleChange, RuleInput};
use super::import;
use super::output::{print, Format};
use super::policies::{self, PolicyInput};
use super::routing;
use super::users::{self, UserInput};
use super::AdminError;
use crate::domain::Password;
use crate::store::Store;

/// The administrative commands.
// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: new, set, get, list, remove, import (New-/Set-/Get-CsUser).
    #[command(subcommand)]
    User(UserCommand),
    /// Call Via Work policies: new, set, get, remove, grant, import (*-CsCallViaWorkPolicy).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The global Call Via Work caller ID (Set-CsRoutingConfiguration -CallViaWorkCallerId).
    #[command(subcommand)]
    Routing(RoutingCommand),
    /// Dial plans: normalisation rules and the test verb.
    #[command(subcommand)]
    Dialplan(DialplanCommand),
    /// The call log: list calls, export them as CSV.
    #[command(subcommand)]
    Calllog(CalllogCommand),
}

/// `viawork user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (display name and password required).
    New {
        /// SIP address, e.g. sip:alice@example.com.
        #[arg(long)]
        sip_uri: String,
        #[command(flatten)]
        fields: UserArgs,
    },
    /// Change the given fields of a user (an empty value clears an optional field).
    Set {
        /// The user's SIP address.
        #[arg(long)]
        sip_uri: String,
        #[command(flatten)]
        fields: UserArgs,
    },
    /// Show a user with their effective Call Via Work policy and callback number.
    Get {
        /// The user's SIP address.
        #[arg(long)]
        sip_uri: String,
    },
    /// List users by SIP address.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Start after this SIP address (for paging).
        #[arg(long)]
        after: Option<String>,
    },
    /// Remove a user with their tokens and personal dial plan.
    Remove {
        /// The user's SIP address.
        #[arg(long)]
        sip_uri: String,
    },
    /// Import users from a `Get-CsUser | Export-Csv` file.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Import the good rows even if some are bad (otherwise nothing is imported).
        #[arg(long)]
        skip_bad_rows: bool,
        /// One initial web and SIP password for every user the import creates (at least 8
        /// characters), hashed once for all; without it imported users have no password.
        #[arg(long)]
        password: Option<String>,
    },
}

/// The fields of `user new` and `user set`. Flags like `--enterprise-voice` take an optional
/// `true`/`false` (alone they mean true).
#[derive(Debug, Args)]
pub struct UserArgs {
    /// Display name, e.g. "Alice Smith".
    #[arg(long)]
    name: Option<String>,
    /// Password (at least 8 characters); also sets the SIP digest credentials.
    #[arg(long)]
    password: Option<String>,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// LineURI, e.g. tel:+14255550101 or tel:+14255550100;ext=101.
    #[arg(long)]
    line_uri: Option<String>,
    /// Enterprise Voice enabled.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    enterprise_voice: Option<bool>,
    /// Account enabled (may sign in).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    enabled: Option<bool>,
    /// user or admin.
    #[arg(long)]
    role: Option<String>,
    /// Job title.
    #[arg(long)]
    title: Option<String>,
    /// Department.
    #[arg(long)]
    department: Option<String>,
    /// Office.
    #[arg(long)]
    office: Option<String>,
    /// Work phone.
    #[arg(long)]
    phone_work: Option<String>,
    /// Mobile phone.
    #[arg(long)]
    phone_mobile: Option<String>,
    /// Home phone.
    #[arg(long)]
    phone_home: Option<String>,
    /// Other phone.
    #[arg(long)]
    phone_other: Option<String>,
    /// Dial-in conferencing PIN (digits, at least 5, not trivial).
    #[arg(long)]
    pin: Option<String>,
    /// Site (selects the Site: policy of that name).
    #[arg(long)]
    site: Option<String>,
    /// May forward calls (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_call_forwarding: Option<bool>,
    /// May use simultaneous ring (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_simultaneous_ring: Option<bool>,
    /// Dial-in conferencing enabled (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    dial_in_conferencing: Option<bool>,
}

impl From<UserArgs> for UserInput {
    fn from(a: UserArgs) -> UserInput {
        UserInput {
            display_name: a.name,
            password: a.password,
            email: a.email,
            line_uri: a.line_uri,
            enterprise_voice: a.enterprise_voice,
            enabled: a.enabled,
            role: a.role,
            title: a.title,
            department: a.department,
            office: a.office,
            phone_work: a.phone_work,
            phone_mobile: a.phone_mobile,
            phone_home: a.phone_home,
            phone_other: a.phone_other,
            pin: a.pin,
            site: a.site,
            allow_call_forwarding: a.allow_call_forwarding,
            allow_simultaneous_ring: a.allow_simultaneous_ring,
            dial_in_conferencing: a.dial_in_conferencing,
        }
    }
}

/// `viawork policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create a Site: or Tag: policy (Global always exists).
    New {
        /// Site:Name or Tag:Name.
        #[arg(long)]
        identity: String,
        #[command(flatten)]
        settings: PolicyArgs,
    },
    /// Change the given settings of a policy.
    Set {
        /// Global, Site:Name or Tag:Name.
        #[arg(long)]
        identity: String,
        #[command(flatten)]
        settings: PolicyArgs,
    },
    /// Show one policy, or all without --identity.
    Get {
        /// Global, Site:Name or Tag:Name.
        #[arg(long)]
        identity: Option<String>,
    },
    /// Remove a policy (its users fall back to site/global); Global is reset instead.
    Remove {
        /// Global, Site:Name or Tag:Name.
        #[arg(long)]
        identity: String,
    },
    /// Grant a Tag: policy to a user; without --policy (or with `none`) clear the grant.
    Grant {
        /// The user's SIP address.
        #[arg(long)]
        user: String,
        /// Tag:Name or Name; `none` to clear.
        #[arg(long)]
        policy: Option<String>,
    },
    /// Import policies from a `Get-CsCallViaWorkPolicy | Export-Csv` file.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Import the good rows even if some are bad (otherwise nothing is imported).
        #[arg(long)]
        skip_bad_rows: bool,
    },
}

/// The settings of `policy new` / `policy set`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Call Via Work allowed (default false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    enabled: Option<bool>,
    /// Ring only the admin callback number first (default false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    use_admin_callback_number: Option<bool>,
    /// The admin callback number: digits with an optional leading +; empty to clear.
    #[arg(long)]
    admin_callback_number: Option<String>,
    /// ViaWork extension: a callback number the user chooses may be in another country than
    /// their LineURI (default false; only when --use-admin-callback-number is false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_international_callback: Option<bool>,
    /// ViaWork extension: a callback number the user chooses may be premium-rate (default
    /// false; only when --use-admin-callback-number is false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_premium_callback: Option<bool>,
}

impl From<PolicyArgs> for PolicyInput {
    fn from(a: PolicyArgs) -> PolicyInput {
        PolicyInput {
            enabled: a.enabled,
            use_admin_callback_number: a.use_admin_callback_number,
            admin_callback_number: a.admin_callback_number,
            allow_international_callback: a.allow_international_callback,
            allow_premium_callback: a.allow_premium_callback,
        }
    }
}

/// `viawork routing ...`
#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// Set the caller ID shown on the callback leg (`none` to clear).
    Set {
        /// An E.164 number, e.g. +15551234567.
        #[arg(long)]
        call_via_work_caller_id: String,
    },
    /// Show the routing configuration.
    Get,
}

/// `viawork dialplan ...`
#[derive(Debug, Subcommand)]
pub enum DialplanCommand {
    /// Normalisation rules.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Show which rule normalises a number, and to what (Test-CsVoiceNormalizationRule).
    Test {
        /// Use this user's dial plan (their own rules, else the global ones).
        #[arg(long)]
        user: Option<String>,
        /// What the user would type, e.g. "5550101".
        #[arg(long)]
        number: String,
    },
}

/// `viawork dialplan rule ...`
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add a rule to the global plan, or to a user's with --user.
    New {
        /// Rule name, unique in its plan.
        #[arg(long)]
        name: String,
        /// Regular expression matched against the whole number, e.g. '^(\d{10})$'.
        #[arg(long)]
        pattern: String,
        /// Translation with $1..$9, e.g. '+1$1'.
        #[arg(long)]
        translation: String,
        /// The result is an internal extension.
        #[arg(long)]
        internal_extension: bool,
        /// The user whose plan it goes in (default: global).
        #[arg(long)]
        user: Option<String>,
        /// 0 = tried first (default: last).
        #[arg(long)]
        position: Option<u32>,
    },
    /// Change a rule: the options given; it keeps its place unless --position is given.
    Set {
        /// The rule's name.
        #[arg(long)]
        name: String,
        /// A new name, unique in its plan.
        #[arg(long)]
        new_name: Option<String>,
        /// A new regular expression.
        #[arg(long)]
        pattern: Option<String>,
        /// A new translation with $1..$9.
        #[arg(long)]
        translation: Option<String>,
        /// Whether the result is an internal extension (true or false).
        #[arg(long)]
        internal_extension: Option<bool>,
        /// A new place: 0 = tried first.
        #[arg(long)]
        position: Option<u32>,
        /// The user whose plan it is in (default: global).
        #[arg(long)]
        user: Option<String>,
    },
    /// List the rules of the global plan, or of a user's.
    List {
        /// The user whose plan to list (default: global).
        #[arg(long)]
        user: Option<String>,
    },
    /// Remove a rule.
    Remove {
        /// The rule's name.
        #[arg(long)]
        name: String,
        /// The user whose plan it is in (default: global).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `viawork calllog ...`
#[derive(Debug, Subcommand)]
pub enum CalllogCommand {
    /// List calls, newest first, a page at a time.
    List {
        #[command(flatten)]
        filter: CallLogArgs,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = call_log::DEFAULT_LIMIT)]
        limit: u32,
        /// Continue after the previous page (the cursor it printed).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Write calls, newest first, to a CSV file (RFC 4180, UTF-8).
    Export {
        /// The CSV file to write (replaced if it exists).
        file: PathBuf,
        #[command(flatten)]
        filter: CallLogArgs,
        /// At most this many calls (1 to 100000).
        #[arg(long, default_value_t = call_log::MAX_EXPORT_ROWS)]
        limit: u32,
        /// Continue after a previous export that stopped at its limit.
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// The filters of `calllog list` and `calllog export`.
#[derive(Debug, Args)]
pub struct CallLogArgs {
    /// Only the calls of this user (SIP address).
    #[arg(long)]
    user: Option<String>,
    /// Only calls placed at or after this time (RFC 3339, e.g. 2024-05-01T09:00:00Z, or a
    /// date).
    #[arg(long)]
    since: Option<String>,
    /// Only calls placed before this time (RFC 3339 or a date).
    #[arg(long)]
    until: Option<String>,
    /// Only calls that ended for this reason (completed, far_end_busy, ...).
    #[arg(long)]
    end_reason: Option<String>,
}

impl CallLogArgs {
    fn parse(&self) -> Result<CallLogFilter, AdminError> {
        Ok(CallLogFilter::parse(
            self.user.as_deref(),
            self.since.as_deref(),
            self.until.as_deref(),
            self.end_reason.as_deref(),
        )?)
    }
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Success,
    /// The result was printed but the command did not do its job (an import with bad rows
    /// and nothing imported): exit non-zero.
    Failed,
}

/// Runs one admin command against `store`, printing its result in `format`.
pub async fn run(
    store: &dyn Store,
    command: AdminCommand,
    format: Format,
) -> Result<Status, AdminError> {
    match command {
        AdminCommand::User(c) => run_user(store, c, format).await,
        AdminCommand::Policy(c) => run_policy(store, c, format).await,
        AdminCommand::Routing(RoutingCommand::Set {
            call_via_work_caller_id,
        }) => done(
            format,
            &routing::set_routing(store, &call_via_work_caller_id).await?,
        ),
        AdminCommand::Routing(RoutingCommand::Get) => {
            done(format, &routing::get_routing(store).await?)
        }
        AdminCommand::Dialplan(c) => run_dialplan(store, c, format).await,
        AdminCommand::Calllog(c) => run_calllog(store, c, format).await,
    }
}

fn done<T: super::output::Render>(format: Format, value: &T) -> Result<Status, AdminError> {
    print(format, value);
    Ok(Status::Success)
}

fn read_file(path: &Path) -> Result<String, AdminError> {
    std::fs::read_to_string(path).map_err(|e| AdminError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn imported(format: Format, view: &import::ImportView) -> Result<Status, AdminError> {
    print(format, view);
    Ok(if view.committed || view.failed == 0 {
        Status::Success
    } else {
        Status::Failed
    })
}

async fn run_user(
    store: &dyn Store,
    command: UserCommand,
    format: Format,
) -> Result<Status, AdminError> {
    match command {
        UserCommand::New { sip_uri, fields } => done(
            format,
            &users::new_user(store, &sip_uri, &fields.into()).await?,
        ),
        UserCommand::Set { sip_uri, fields } => done(
            format,
            &users::set_user(store, &sip_uri, &fields.into()).await?,
        ),
        UserCommand::Get { sip_uri } => done(format, &users::get_user(store, &sip_uri).await?),
        UserCommand::List { limit, after } => done(
            format,
            &users::list_users(store, after.as_deref(), limit).await?,
        ),
        UserCommand::Remove { sip_uri } => {
            done(format, &users::remove_user(store, &sip_uri).await?)
        }
        UserCommand::Import {
            file,
            skip_bad_rows,
            password,
        } => {
            // Checked before the file is read: a bad password is the command's fault, not
            // a row's.
            let password = password.as_deref().map(Password::new).transpose()?;
            let text = read_file(&file)?;
            let source = file.display().to_string();
            imported(
                format,
                &import::import_users(store, &source, &text, skip_bad_rows, password.as_ref())
                    .await?,
            )
        }
    }
}

async fn run_policy(
    store: &dyn Store,
    command: PolicyCommand,
    format: Format,
) -> Result<Status, AdminError> {
    match command {
        PolicyCommand::New { identity, settings } => done(
            format,
            &policies::new_policy(store, &identity, &settings.into()).await?,
        ),
        PolicyCommand::Set { identity, settings } => done(
            format,
            &policies::set_policy(store, &identity, &settings.into()).await?,
        ),
        PolicyCommand::Get { identity: Some(id) } => {
            done(format, &policies::get_policy(store, &id).await?)
        }
        PolicyCommand::Get { identity: None } => {
            done(format, &policies::list_policies(store).await?)
        }
        PolicyCommand::Remove { identity } => {
            done(format, &policies::remove_policy(store, &identity).await?)
        }
        PolicyCommand::Grant { user, policy } => done(
            format,
            &policies::grant(store, &user, policy.as_deref()).await?,
        ),
        PolicyCommand::Import {
            file,
            skip_bad_rows,
        } => {
            let text = read_file(&file)?;
            let source = file.display().to_string();
            imported(
                format,
                &import::import_policies(store, &source, &text, skip_bad_rows).await?,
            )
        }
    }
}

async fn run_dialplan(
    store: &dyn Store,
    command: DialplanCommand,
    format: Format,
) -> Result<Status, AdminError> {
    match command {
        DialplanCommand::Test { user, number } => done(
            format,
            &dialplan::test(store, user.as_deref(), &number).await?,
        ),
        DialplanCommand::Rule(RuleCommand::New {
            name,
            pattern,
            translation,
            internal_extension,
            user,
            position,
        }) => {
            let input = RuleInput {
                name,
                pattern,
                translation,
                is_internal_extension: internal_extension,
                position,
            };
            done(
                format,
                &dialplan::new_rule(store, user.as_deref(), &input).await?,
            )
        }
        DialplanCommand::Rule(RuleCommand::Set {
            name,
            new_name,
            pattern,
            translation,
            internal_extension,
            position,
            user,
        }) => {
            let change = RuleChange {
                name: new_name,
                pattern,
                translation,
                is_internal_extension: internal_extension,
                position,
            };
            done(
                format,
                &dialplan::set_rule(store, user.as_deref(), &name, &change).await?,
            )
        }
        DialplanCommand::Rule(RuleCommand::List { user }) => {
            done(format, &dialplan::list_rules(store, user.as_deref()).await?)
        }
        DialplanCommand::Rule(RuleCommand::Remove { name, user }) => done(
            format,
            &dialplan::remove_rule(store, user.as_deref(), &name).await?,
        ),
    }
}

async fn run_calllog(
    store: &dyn Store,
    command: CalllogCommand,
    format: Format,
) -> Result<Status, AdminError> {
    let cursor = |c: Option<String>| c.as_deref().map(Cursor::parse).transpose();
    match command {
        CalllogCommand::List {
            filter,
            limit,
            cursor: after,
        } => {
            let (filter, after) = (filter.parse()?, cursor(after)?);
            done(
                format,
                &call_log::list_calls(store, &filter, after.as_ref(), limit, Audience::Admin)
                    .await?,
            )
        }
        CalllogCommand::Export {
            file,
            filter,
            limit,
            cursor: after,
        } => {
            let (filter, after) = (filter.parse()?, cursor(after)?);
            let mut csv = String::new();
            let mut summary =
                call_log::export_csv(store, &filter, after.as_ref(), limit, &mut csv).await?;
            std::fs::write(&file, csv).map_err(|e| AdminError::File {
                path: file.display().to_string(),
                message: e.to_string(),
            })?;
            summary.file = Some(file.display().to_string());
            done(format, &summary)
        }
    }
}
