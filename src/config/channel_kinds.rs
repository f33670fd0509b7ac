//! The settings of each channel type, each read by its own function; `channel.rs` has
//! already refused keys of other types and reads the keys every channel takes.

use crate::config::channels::{
    AlertmanagerConfig, ChannelKind, DiscordConfig, EmailConfig, EmailTls, GotifyConfig,
    MatrixConfig, NtfyConfig, PushoverConfig, TelegramConfig, TelegramControl, WebhookBody,
    WebhookConfig, DEFAULT_AM_RESEND,
};
use crate::config::error::Diagnostics;
use crate::config::located::{resolve_path, Located, SourceMap};
use crate::config::range::{self, days, secs};
use crate::config::raw::{ChannelKindText, ChatIdText, EmailTlsText, RawChannel};
use crate::config::secret::{Secret, SecretSource};

/// What the types' readers share: where to report, and the channel's name for messages.
pub(super) struct ChannelCx<'a> {
    pub(super) sources: &'a SourceMap,
    /// The channel's table, where problems of the channel as a whole are reported.
    pub(super) at: &'a Located<RawChannel>,
    pub(super) name: &'a str,
    /// `channel "NAME"`, the owner of its secrets in messages.
    pub(super) owner: String,
    pub(super) kind: ChannelKindText,
}

impl ChannelCx<'_> {
    /// A secret key the channel needs, in any of its four forms (`KEY`, `KEY_file`,
    /// `KEY_env`, `KEY_credential`; `what` names the ones to suggest): whether one is set
    /// (reported when not), and its value if it could be read.
    pub(super) fn required_secret(
        &self,
        key: &str,
        forms: [&Option<Located<String>>; 4],
        what: &str,
        diags: &mut Diagnostics,
    ) -> (bool, Option<Secret>) {
        let source = secret_of(key, &self.owner, forms);
        let given = self.need(source.is_given(), what, diags);
        (given, source.resolve(self.sources, diags))
    }

    /// Reports `what` missing unless `present`; returns `present`.
    pub(super) fn need(&self, present: bool, what: &str, diags: &mut Diagnostics) -> bool {
        if !present {
            diags.at(
                self.sources,
                self.at,
                format!(
                    "{} channel {:?} needs `{what}`",
                    type_word(self.kind),
                    self.name
                ),
            );
        }
        present
    }
}

/// An `email` channel: SMTP server, TLS, login, sender and recipients.
pub(super) fn email(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let name = cx.name;
    let tls = match c.tls.as_ref().map(|t| t.value) {
        None | Some(EmailTlsText::Starttls) => EmailTls::StartTls,
        Some(EmailTlsText::Tls) => EmailTls::Implicit,
        Some(EmailTlsText::None) => EmailTls::None,
    };
    let port = match &c.port {
        Some(p) => range::number(p, "port", 1, u64::from(u16::MAX), cx.sources, diags) as u16,
        None => match tls {
            EmailTls::StartTls => 587,
            EmailTls::Implicit => 465,
            EmailTls::None => 25,
        },
    };
    let password = secret_of(
        "password",
        &cx.owner,
        [
            &c.password,
            &c.password_file,
            &c.password_env,
            &c.password_credential,
        ],
    )
    .resolve(cx.sources, diags);
    if password.is_some() && c.username.is_none() {
        diags.at(
            cx.sources,
            cx.at,
            format!("email channel {name:?} has a password but no `username`"),
        );
    }
    if tls == EmailTls::None && password.is_some() {
        diags.at(
            cx.sources,
            cx.at,
            format!("email channel {name:?}: refusing to send a password without TLS; use tls = \"starttls\" or \"tls\""),
        );
    }
    let host_ok = cx.need(c.host.is_some(), "host", diags);
    let from_ok = cx.need(c.from.is_some(), "from", diags);
    let to_ok = cx.need(
        c.to.as_ref().is_some_and(|t| !t.value.is_empty()),
        "to (one or more addresses)",
        diags,
    );
    for addr in c
        .from
        .iter()
        .chain(c.to.iter().flat_map(|t| t.value.iter()))
    {
        if addr.value.parse::<lettre::message::Mailbox>().is_err() {
            diags.at(
                cx.sources,
                addr,
                format!(
                    "{:?} is not an email address like \"Ops <ops@example.com>\"",
                    addr.value
                ),
            );
        }
    }
    let ca_file = c.ca_file.as_ref().map(|f| {
        let p = resolve_path(cx.sources, f);
        if let Err(e) = std::fs::read(&p) {
            diags.at(cx.sources, f, format!("cannot read {}: {e}", p.display()));
        }
        p
    });
    if !(host_ok && from_ok && to_ok) {
        return None;
    }
    Some(ChannelKind::Email(EmailConfig {
        host: c.host.as_ref()?.value.clone(),
        port,
        tls,
        username: c.username.as_ref().map(|u| u.value.clone()),
        password,
        from: c.from.as_ref()?.value.clone(),
        to: c
            .to
            .as_ref()?
            .value
            .iter()
            .map(|t| t.value.clone())
            .collect(),
        ca_file,
        subject: c.subject.as_ref().map(|s| s.value.clone()),
    }))
}

/// A `telegram` channel: bot token and chat.
pub(super) fn telegram(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let (token_given, token) = cx.required_secret(
        "token",
        [&c.token, &c.token_file, &c.token_env, &c.token_credential],
        "token_file, token_env or token_credential",
        diags,
    );
    let chat_ok = cx.need(c.chat_id.is_some(), "chat_id", diags);
    let api_url = match &c.api_url {
        Some(u) => http_url(u, cx.sources, diags).unwrap_or_default(),
        None => "https://api.telegram.org".to_string(),
    };
    let control = telegram_control(c, cx, diags);
    if let (Some(_), Some(chat)) = (&control, &c.chat_id) {
        if !matches!(chat.value, ChatIdText::Number(_)) {
            diags.at(cx.sources, chat, format!("channel {:?}: control = true needs the numeric chat_id of the chat the commands come from (a @channel cannot send commands); see docs/telegram.md", cx.name));
        }
    }
    if !(token_given && chat_ok) {
        return None;
    }
    Some(ChannelKind::Telegram(TelegramConfig {
        control,
        token: token?,
        chat_id: match &c.chat_id.as_ref()?.value {
            ChatIdText::Number(n) => n.to_string(),
            ChatIdText::Text(t) => t.clone(),
        },
        api_url: api_url.trim_end_matches('/').to_string(),
    }))
}

/// `control` and `control_users` of a `telegram` channel: users are required with
/// `control = true` (an empty list would take commands from no one, a list without
/// `control` would suggest it does).
fn telegram_control(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<TelegramControl> {
    let on = c.control.as_ref().is_some_and(|b| b.value);
    let users: Vec<i64> = c
        .control_users
        .iter()
        .flat_map(|u| u.value.iter().map(|id| id.value))
        .collect();
    let name = cx.name;
    match (&c.control, &c.control_users) {
        (Some(b), None) if b.value => {
            diags.at(cx.sources, b, format!("channel {name:?}: control = true needs control_users = [<numeric Telegram user ids>]; see docs/telegram.md"));
        }
        (_, Some(u)) if !on => {
            diags.at(
                cx.sources,
                u,
                format!("channel {name:?}: control_users without control = true takes no commands"),
            );
        }
        (_, Some(u)) if users.is_empty() => {
            diags.at(
                cx.sources,
                u,
                format!("channel {name:?}: control_users is empty: nobody could send a command"),
            );
        }
        _ => {}
    }
    if let Some(u) = c
        .control_users
        .iter()
        .flat_map(|u| u.value.iter())
        .find(|id| id.value <= 0)
    {
        diags.at(cx.sources, u, format!("channel {name:?}: {} is not a Telegram user id (user ids are positive numbers; see docs/telegram.md)", u.value));
    }
    on.then_some(TelegramControl { users })
}

/// The `url` of a `slack` (webhook mode) or `webhook` channel (usually itself the
/// credential): whether one is given (reported when not), and its value if it could be read.
pub(super) fn channel_url(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> (bool, Option<Secret>) {
    let u = secret_of(
        "url",
        &cx.owner,
        [&c.url, &c.url_file, &c.url_env, &c.url_credential],
    );
    let given = cx.need(
        u.is_given(),
        "url, url_file, url_env or url_credential",
        diags,
    );
    // A webhook URL usually is the credential (Slack's are); inline is allowed for a
    // plain local endpoint, with the usual warning.
    let url = u.resolve(cx.sources, diags);
    if let Some(u) = &url {
        if !(u.0.starts_with("http://") || u.0.starts_with("https://")) {
            diags.at(
                cx.sources,
                cx.at,
                format!(
                    "channel {:?}: the url must start with http:// or https://",
                    cx.name
                ),
            );
        }
    }
    (given, url)
}

/// A `webhook` channel: the URL and an optional body template.
pub(super) fn webhook(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let (given, url) = channel_url(c, cx, diags);
    if !given {
        return None;
    }
    let body = webhook_body(c, cx, diags);
    Some(ChannelKind::Webhook(WebhookConfig { url: url?, body }))
}

/// A webhook's `body` template and `content_type`: the template's placeholders must be
/// known and, for a JSON body, it must be JSON whatever the values.
fn webhook_body(c: &RawChannel, cx: &ChannelCx, diags: &mut Diagnostics) -> Option<WebhookBody> {
    let Some(body) = &c.body else {
        if let Some(t) = &c.content_type {
            diags.at(
                cx.sources,
                t,
                format!(
                    "channel {:?}: content_type applies to a `body` template; without one the body is logwarden's JSON",
                    cx.name
                ),
            );
        }
        return None;
    };
    let content_type = c
        .content_type
        .as_ref()
        .map(|t| t.value.trim().to_string())
        .unwrap_or_else(|| "application/json".to_string());
    if content_type.is_empty() || content_type.contains(['\r', '\n']) {
        if let Some(t) = &c.content_type {
            diags.at(
                cx.sources,
                t,
                "content_type must be one header value, like \"application/json\"".into(),
            );
        }
        return None;
    }
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = mime == "application/json" || mime.ends_with("+json");
    if let Err(e) = crate::core::text_template::check_body(&body.value) {
        diags.at(
            cx.sources,
            body,
            format!("channel {:?}: body: {e}", cx.name),
        );
        return None;
    }
    if json {
        if let Err(e) = crate::core::text_template::check_json(&body.value) {
            diags.at(cx.sources, body, format!("channel {:?}: {e}", cx.name));
            return None;
        }
    }
    Some(WebhookBody {
        template: body.value.clone(),
        content_type,
        json,
    })
}

/// An `alertmanager` channel: the cluster's URLs, re-send interval, labels.
pub(super) fn alertmanager(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let ok = cx.need(
        c.urls.as_ref().is_some_and(|u| !u.value.is_empty()),
        "urls (one per Alertmanager of the cluster)",
        diags,
    );
    let urls: Vec<String> = c
        .urls
        .iter()
        .flat_map(|u| u.value.iter())
        .filter_map(|u| http_url(u, cx.sources, diags))
        .map(|u| u.trim_end_matches('/').to_string())
        .collect();
    let resend = range::duration_or(
        &c.resend,
        "resend",
        (secs(1), days(1)),
        DEFAULT_AM_RESEND,
        cx.sources,
        diags,
    );
    if !ok {
        return None;
    }
    Some(ChannelKind::Alertmanager(AlertmanagerConfig {
        urls,
        resend,
        labels: c
            .labels
            .as_ref()
            .map(|l| l.value.clone())
            .unwrap_or_default(),
    }))
}

/// An `ntfy` channel: the server (`url`, default `https://ntfy.sh`), `topic`, and an access
/// token for a protected topic.
pub(super) fn ntfy(c: &RawChannel, cx: &ChannelCx, diags: &mut Diagnostics) -> Option<ChannelKind> {
    let name = cx.name;
    let u = secret_of(
        "url",
        &cx.owner,
        [&c.url, &c.url_file, &c.url_env, &c.url_credential],
    );
    let url = if u.is_given() {
        let url = u.resolve(cx.sources, diags)?;
        if !(url.0.starts_with("http://") || url.0.starts_with("https://")) {
            diags.at(
                cx.sources,
                cx.at,
                format!("channel {name:?}: the url must start with http:// or https://"),
            );
            return None;
        }
        url
    } else {
        Secret("https://ntfy.sh".into())
    };
    let topic_ok = cx.need(c.topic.is_some(), "topic", diags);
    let topic = c.topic.as_ref()?;
    let valid = !topic.value.is_empty()
        && topic.value.len() <= 64
        && topic
            .value
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if !valid {
        diags.at(
            cx.sources,
            topic,
            "an ntfy topic is 1 to 64 letters, digits, '-' or '_'".into(),
        );
    }
    let tk = secret_of(
        "token",
        &cx.owner,
        [&c.token, &c.token_file, &c.token_env, &c.token_credential],
    );
    let token = if tk.is_given() {
        Some(tk.resolve(cx.sources, diags)?)
    } else {
        None
    };
    if !(topic_ok && valid) {
        return None;
    }
    Some(ChannelKind::Ntfy(NtfyConfig {
        url: Secret(url.0.trim_end_matches('/').to_string()),
        topic: Secret(topic.value.clone()),
        token,
    }))
}

/// A `discord` channel (its webhook `url`), a `gotify` one (the server's `url` and an
/// application `token`) or a `matrix` one (the homeserver's `url`, an access `token`, a
/// `room` id).
pub(super) fn discord_or_gotify(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let name = cx.name;
    let (given, url) = cx.required_secret(
        "url",
        [&c.url, &c.url_file, &c.url_env, &c.url_credential],
        "url, url_file, url_env or url_credential",
        diags,
    );
    if let Some(u) = &url {
        if !(u.0.starts_with("http://") || u.0.starts_with("https://")) {
            diags.at(
                cx.sources,
                cx.at,
                format!("channel {name:?}: the url must start with http:// or https://"),
            );
            return None;
        }
    }
    let url = Secret(url?.0.trim_end_matches('/').to_string());
    if cx.kind == ChannelKindText::Discord {
        return given.then_some(ChannelKind::Discord(DiscordConfig { url }));
    }
    let (token_given, token) = cx.required_secret(
        "token",
        [&c.token, &c.token_file, &c.token_env, &c.token_credential],
        "token_file, token_env or token_credential",
        diags,
    );
    if cx.kind == ChannelKindText::Matrix {
        let room_ok = cx.need(
            c.room.is_some(),
            "room (a room id like !abc123:example.org)",
            diags,
        );
        let room = c.room.as_ref()?;
        let valid = room.value.starts_with('!')
            && room.value.contains(':')
            && !room
                .value
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control());
        if !valid {
            diags.at(
                cx.sources,
                room,
                "a matrix room id looks like \"!abc123:example.org\" (the room's settings show it)"
                    .into(),
            );
        }
        if !(given && token_given && room_ok && valid) {
            return None;
        }
        return Some(ChannelKind::Matrix(MatrixConfig {
            url,
            token: token?,
            room: room.value.clone(),
        }));
    }
    if !(given && token_given) {
        return None;
    }
    Some(ChannelKind::Gotify(GotifyConfig { url, token: token? }))
}

/// A `pushover` channel: the application `token` and the `user` (or group) key, both
/// secrets; `api_url` for another server (a test one).
pub(super) fn pushover(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let (token_given, token) = cx.required_secret(
        "token",
        [&c.token, &c.token_file, &c.token_env, &c.token_credential],
        "token_file, token_env or token_credential (the application's API token)",
        diags,
    );
    let (user_given, user) = cx.required_secret(
        "user",
        [&c.user, &c.user_file, &c.user_env, &c.user_credential],
        "user_file, user_env or user_credential (the user or group key)",
        diags,
    );
    let api_url = match &c.api_url {
        Some(u) => http_url(u, cx.sources, diags)?,
        None => "https://api.pushover.net".to_string(),
    };
    if !(token_given && user_given) {
        return None;
    }
    Some(ChannelKind::Pushover(PushoverConfig {
        api_url: api_url.trim_end_matches('/').to_string(),
        token: token?,
        user: user?,
    }))
}

/// The four forms of one secret key: inline, `_file`, `_env`, `_credential`.
pub(super) fn secret_of<'a>(
    key: &'a str,
    owner: &'a str,
    [inline, file, env, credential]: [&'a Option<Located<String>>; 4],
) -> SecretSource<'a> {
    SecretSource {
        key,
        owner,
        inline: inline.as_ref(),
        file: file.as_ref(),
        env: env.as_ref(),
        credential: credential.as_ref(),
    }
}

/// A channel type as written in `type = ...`.
pub(super) fn type_word(k: ChannelKindText) -> &'static str {
    match k {
        ChannelKindText::Console => "console",
        ChannelKindText::Email => "email",
        ChannelKindText::Telegram => "telegram",
        ChannelKindText::Slack => "slack",
        ChannelKindText::Webhook => "webhook",
        ChannelKindText::Alertmanager => "alertmanager",
        ChannelKindText::Ntfy => "ntfy",
        ChannelKindText::Discord => "discord",
        ChannelKindText::Gotify => "gotify",
        ChannelKindText::Matrix => "matrix",
        ChannelKindText::Pushover => "pushover",
    }
}

/// A URL that must be http(s).
pub(super) fn http_url(
    u: &Located<String>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<String> {
    if u.value.starts_with("http://") || u.value.starts_with("https://") {
        Some(u.value.clone())
    } else {
        diags.at(
            sources,
            u,
            format!("{:?} must start with http:// or https://", u.value),
        );
        None
    }
}
