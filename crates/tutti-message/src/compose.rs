//! A job's message, prepared once and written per recipient.

use std::collections::HashMap;

use tutti_merge::{
    Budget, Env, Escape, FieldValues, Fields, MergeError, Options, Recipient, SystemDropIn,
    Template, TooLarge, compile_within,
};

use crate::charset::Charset;
use crate::encode::{base64_lines, file_parameter, header_text, mailbox, quoted_printable};
use crate::links::{FIRST_LINK_SLOT, LinkTable, add_open_pixel, mark_html, mark_text};

/// Slot of `{{*UnsubscribeURL}}` and the `List-Unsubscribe` header.
const UNSUBSCRIBE_SLOT: usize = 0;
/// Slot of the open-tracking image.
const OPEN_SLOT: usize = 1;

/// A file sent with the message: attached, or shown in the HTML (`cid:` + `content_id`).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
    /// When set, an inline image the HTML shows as `cid:{content_id}`.
    pub content_id: Option<String>,
}

/// What the user defined.
#[derive(Debug, Clone)]
pub struct MessageSpec {
    pub job: String,
    pub subject: String,
    pub from_name: String,
    pub from_address: String,
    /// Empty: no Reply-To header.
    pub reply_to: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub charset: Charset,
    pub attachments: Vec<Attachment>,
    pub dropins: HashMap<String, String>,
    pub dropins_enabled: bool,
    pub track_opens: bool,
    pub track_clicks: bool,
    /// Links (as written) not to track even when clicks are tracked.
    pub untracked: Vec<String>,
}

/// A link of the message, as the Tracker's link table needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL as written in the text.
    pub written: String,
    /// The target when it is the same for everyone; `None` when it holds merge fields.
    pub target: Option<String>,
    pub tracked: bool,
}

/// The per-recipient URLs that go to the Tracker.
pub trait TrackingUrls {
    fn unsubscribe(&self, out: &mut String);
    fn open(&self, out: &mut String);
    /// The click URL of `link`; `merged` is the recipient's own target when the link holds
    /// merge fields.
    fn click(&self, link: usize, merged: Option<&str>, out: &mut String);
}

/// Per-recipient data of one message.
pub struct Envelope<'a, F: FieldValues + ?Sized> {
    pub fields: &'a F,
    pub address: &'a str,
    /// The recipient's name for the To header (may be empty).
    pub name: &'a str,
    /// RFC 5322 date-time.
    pub date: &'a str,
    /// Without the angle brackets.
    pub message_id: &'a str,
}

/// What writing one message found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// The recipient's data held characters the job's charset cannot, so this message
    /// went out in UTF-8.
    pub utf8_fallback: bool,
    /// The sender address as merged for this recipient (its domain picks the DKIM key).
    pub from_address: String,
}

struct CompiledLink {
    url: Template,
    tracked: bool,
}

enum Body {
    Html,
    Text,
    Binary {
        headers: String,
        encoded: Vec<u8>,
    },
    Multipart {
        subtype: &'static str,
        boundary: String,
        parts: Vec<Body>,
    },
}

/// A message ready to be written for any recipient.
pub struct Composer {
    job: String,
    charset: Charset,
    subject: Template,
    from_name: Template,
    from_address: Template,
    reply_to: Option<Template>,
    html: Option<Template>,
    text: Option<Template>,
    links: Vec<CompiledLink>,
    written_links: Vec<Link>,
    body: Body,
}

fn problem(source: &str, text: &str, offset: usize, message: String) -> MergeError {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    MergeError {
        source: source.to_string(),
        line,
        column,
        message,
    }
}

/// Drop-ins named (directly or through others) in `texts`.
fn used_dropins<'a>(
    texts: &[&str],
    dropins: &'a HashMap<String, String>,
) -> Vec<(&'a String, &'a String)> {
    let mut used: Vec<(&String, &String)> = Vec::new();
    let mut pending: Vec<&str> = texts.to_vec();
    while let Some(text) = pending.pop() {
        for (name, content) in dropins {
            if !used.iter().any(|(n, _)| *n == name) && text.contains(&format!("{{{{{name}}}}}")) {
                used.push((name, content));
                pending.push(content);
            }
        }
    }
    used
}

/// The most different links a message may have (as many as the Tracker takes for a job).
pub const MAX_LINKS: usize = 10_000;

/// Decodes HTML character references (`&amp;`, `&#38;`) in a URL written in HTML, except
/// those that are merge fields.
fn decode_entities(url: &str, fields: &Fields) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let reference = rest.find(';').map(|semi| &rest[..=semi]);
        let decoded = reference.and_then(|r| {
            let name = &r[1..r.len() - 1];
            if fields.column(name).is_some() {
                return None;
            }
            if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                return code.and_then(char::from_u32).map(String::from);
            }
            entities::ENTITIES
                .iter()
                .find(|e| e.entity == r)
                .map(|e| e.characters.to_string())
        });
        match (reference, decoded) {
            (Some(r), Some(d)) => {
                out.push_str(&d);
                rest = &rest[r.len()..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn boundary(job: &str, n: usize) -> String {
    // "=_" cannot occur in quoted-printable or base64 output, so no part can hold it.
    let digest: u32 = job
        .bytes()
        .fold(2166136261, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
    format!("=_tutti_{digest:08x}_{n}")
}

fn attachment_part(a: &Attachment) -> Body {
    let mut headers = format!(
        "Content-Type: {}; {}\r\nContent-Transfer-Encoding: base64\r\n",
        a.content_type,
        file_parameter("name", &a.filename)
    );
    match &a.content_id {
        Some(cid) => headers.push_str(&format!(
            "Content-ID: <{cid}>\r\nContent-Disposition: inline; {}\r\n",
            file_parameter("filename", &a.filename)
        )),
        None => headers.push_str(&format!(
            "Content-Disposition: attachment; {}\r\n",
            file_parameter("filename", &a.filename)
        )),
    }
    let mut encoded = Vec::new();
    base64_lines(&a.data, &mut encoded);
    Body::Binary { headers, encoded }
}

impl Composer {
    /// Prepares `spec` for recipients with `fields`. Every problem is reported: merge
    /// errors and characters the charset cannot hold, each with its place.
    pub fn new(spec: &MessageSpec, fields: &Fields) -> Result<Composer, Vec<MergeError>> {
        let mut problems = Vec::new();
        if spec.html.is_none() && spec.text.is_none() {
            problems.push(MergeError {
                source: "message".into(),
                line: 1,
                column: 1,
                message: "the message has neither an HTML nor a text body".into(),
            });
        }
        problems.extend(header_problems(spec));
        let mut texts: Vec<(&str, &str)> = vec![
            ("subject", &spec.subject),
            ("sender name", &spec.from_name),
            ("sender address", &spec.from_address),
            ("reply-to", &spec.reply_to),
        ];
        if let Some(h) = &spec.html {
            texts.push(("HTML body", h));
        }
        if let Some(t) = &spec.text {
            texts.push(("text body", t));
        }
        let all: Vec<&str> = texts.iter().map(|(_, t)| *t).collect();
        let dropins = if spec.dropins_enabled {
            used_dropins(&all, &spec.dropins)
        } else {
            Vec::new()
        };
        let dropin_sources: Vec<(String, &str)> = dropins
            .iter()
            .map(|(n, c)| (format!("drop-in \"{n}\""), c.as_str()))
            .collect();
        for (source, text) in texts
            .iter()
            .map(|(s, t)| (s.to_string(), *t))
            .chain(dropin_sources)
        {
            for u in spec.charset.unencodable(text, 20) {
                problems.push(problem(
                    &source,
                    text,
                    u.offset,
                    format!(
                        "{} cannot hold the character '{}' (U+{:04X}); choose UTF-8 or change the text",
                        spec.charset.name(),
                        u.character,
                        u32::from(u.character)
                    ),
                ));
            }
        }

        let mut system = HashMap::from([
            (
                "*UnsubscribeURL".to_string(),
                SystemDropIn::Slot(UNSUBSCRIBE_SLOT),
            ),
            (
                "*FromAddress".to_string(),
                SystemDropIn::Text(spec.from_address.clone()),
            ),
            (
                "*ReplyToAddress".to_string(),
                SystemDropIn::Text(spec.reply_to.clone()),
            ),
        ]);
        system.insert("*JobID".to_string(), SystemDropIn::Text(spec.job.clone()));
        let mut table = LinkTable::default();
        let track = spec.track_clicks;
        // Links are found in the texts and in the drop-ins; each part sees its own version.
        let mut html_dropins = spec.dropins.clone();
        let mut text_dropins = spec.dropins.clone();
        let decode = |url: &str| decode_entities(url, fields);
        let mut html = spec.html.clone();
        if track {
            if let Some(h) = &html {
                match mark_html(h, &mut table, &decode) {
                    Ok(marked) => html = Some(marked),
                    Err(e) => problems.push(MergeError {
                        source: "HTML body".into(),
                        line: 1,
                        column: 1,
                        message: e,
                    }),
                }
            }
            for (name, _) in &dropins {
                if let Some(content) = html_dropins.get_mut(*name)
                    && let Ok(marked) = mark_html(content, &mut table, &decode)
                {
                    *content = marked;
                }
            }
        }
        if spec.track_opens
            && let Some(h) = &html
        {
            match add_open_pixel(h, OPEN_SLOT) {
                Ok(with_pixel) => html = Some(with_pixel),
                Err(e) => problems.push(MergeError {
                    source: "HTML body".into(),
                    line: 1,
                    column: 1,
                    message: e,
                }),
            }
        }
        let text = match (&spec.text, track) {
            (Some(t), true) => {
                let marked = mark_text(t, &mut table);
                for (name, _) in &dropins {
                    if let Some(content) = text_dropins.get_mut(*name) {
                        *content = mark_text(content, &mut table);
                    }
                }
                Some(marked)
            }
            (t, _) => t.clone(),
        };

        let env = |dropins: HashMap<String, String>| Env {
            fields: fields.clone(),
            dropins,
            system: system.clone(),
            dropins_enabled: spec.dropins_enabled,
        };
        let plain_env = env(spec.dropins.clone());
        let html_env = env(html_dropins);
        let text_env = env(text_dropins);
        if table.urls.len() > MAX_LINKS {
            problems.push(MergeError {
                source: "links".into(),
                line: 1,
                column: 1,
                message: format!(
                    "the message has {} different links; at most {MAX_LINKS} are tracked",
                    table.urls.len()
                ),
            });
            table.urls.truncate(MAX_LINKS);
        }
        // One budget for every text of the message: each link's URL is a text too.
        let mut budget = Budget::default();
        let mut compile_one = |source: &str, text: &str, env: &Env, options: Options| {
            compile_within(&mut budget, source, text, env, options)
                .map_err(|e| problems.extend(e.0))
                .ok()
        };
        let subject = compile_one("subject", &spec.subject, &plain_env, Options::HEADER);
        let from_name = compile_one("sender name", &spec.from_name, &plain_env, Options::HEADER);
        let from_address = compile_one(
            "sender address",
            &spec.from_address,
            &plain_env,
            Options::HEADER,
        );
        let reply_to = if spec.reply_to.trim().is_empty() {
            Some(None)
        } else {
            compile_one("reply-to", &spec.reply_to, &plain_env, Options::HEADER).map(Some)
        };
        let html_t = html
            .as_ref()
            .map(|h| compile_one("HTML body", h, &html_env, Options::HTML));
        let text_t = text
            .as_ref()
            .map(|t| compile_one("text body", t, &text_env, Options::TEXT));
        let url_options = Options {
            directives: false,
            escape: Escape::None,
        };
        let mut links = Vec::new();
        let mut written_links = Vec::new();
        for (i, written) in table.urls.iter().enumerate() {
            // Untracked links saved before links were decoded may hold `&amp;`.
            let tracked = !spec
                .untracked
                .iter()
                .any(|u| u == written || decode(u) == *written);
            if let Some(url) =
                compile_one(&format!("link {}", i + 1), written, &plain_env, url_options)
            {
                written_links.push(Link {
                    written: written.clone(),
                    target: url.constant().map(String::from),
                    tracked,
                });
                links.push(CompiledLink { url, tracked });
            }
        }

        let (Some(subject), Some(from_name), Some(from_address), Some(reply_to)) =
            (subject, from_name, from_address, reply_to)
        else {
            return Err(problems);
        };
        let html_t = html_t.flatten();
        let text_t = text_t.flatten();
        if !problems.is_empty() {
            return Err(problems);
        }

        let mut n = 0;
        let mut next_boundary = || {
            n += 1;
            boundary(&spec.job, n)
        };
        let (inline, attached): (Vec<&Attachment>, Vec<&Attachment>) = spec
            .attachments
            .iter()
            .partition(|a| a.content_id.is_some());
        let mut html_body = Body::Html;
        if !inline.is_empty() && html_t.is_some() {
            let mut parts = vec![Body::Html];
            parts.extend(inline.iter().map(|a| attachment_part(a)));
            html_body = Body::Multipart {
                subtype: "related",
                boundary: next_boundary(),
                parts,
            };
        }
        let mut body = match (&html_t, &text_t) {
            (Some(_), Some(_)) => Body::Multipart {
                subtype: "alternative",
                boundary: next_boundary(),
                parts: vec![Body::Text, html_body],
            },
            (Some(_), None) => html_body,
            _ => Body::Text,
        };
        if !attached.is_empty() {
            let mut parts = vec![body];
            parts.extend(attached.iter().map(|a| attachment_part(a)));
            body = Body::Multipart {
                subtype: "mixed",
                boundary: next_boundary(),
                parts,
            };
        }
        Ok(Composer {
            job: spec.job.clone(),
            charset: spec.charset,
            subject,
            from_name,
            from_address,
            reply_to,
            html: html_t,
            text: text_t,
            links,
            written_links,
            body,
        })
    }

    /// The message's links, in link-number order.
    pub fn links(&self) -> &[Link] {
        &self.written_links
    }
}

/// A recipient as the templates of one part see it.
struct PartRecipient<'a, F: FieldValues + ?Sized, T: TrackingUrls> {
    composer: &'a Composer,
    fields: &'a F,
    tracking: &'a T,
    html: bool,
}

impl<F: FieldValues + ?Sized, T: TrackingUrls> FieldValues for PartRecipient<'_, F, T> {
    fn field(&self, column: usize) -> &str {
        self.fields.field(column)
    }
}

impl<F: FieldValues + ?Sized, T: TrackingUrls> Recipient for PartRecipient<'_, F, T> {
    fn slot(&self, slot: usize, out: &mut String) {
        let mut url = String::new();
        match slot {
            UNSUBSCRIBE_SLOT => self.tracking.unsubscribe(&mut url),
            OPEN_SLOT => self.tracking.open(&mut url),
            _ => {
                let index = slot.saturating_sub(FIRST_LINK_SLOT);
                if let Some(link) = self.composer.links.get(index) {
                    let merged = link
                        .url
                        .constant()
                        .is_none()
                        .then(|| link.url.render(&NoSlots(self.fields)));
                    match (link.tracked, merged) {
                        (true, merged) => self.tracking.click(index, merged.as_deref(), &mut url),
                        (false, Some(m)) => url = m,
                        (false, None) => url = link.url.render(&NoSlots(self.fields)),
                    }
                }
            }
        }
        if self.html {
            for c in url.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '"' => out.push_str("&quot;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    c => out.push(c),
                }
            }
        } else {
            out.push_str(&url);
        }
    }
}

/// A recipient for templates that have no slots (headers, link targets).
struct NoSlots<'a, F: FieldValues + ?Sized>(&'a F);

impl<F: FieldValues + ?Sized> FieldValues for NoSlots<'_, F> {
    fn field(&self, column: usize) -> &str {
        self.0.field(column)
    }
}

impl<F: FieldValues + ?Sized> Recipient for NoSlots<'_, F> {
    fn slot(&self, _slot: usize, _out: &mut String) {}
}

/// What is wrong with the subject and the addresses before any recipient is merged: an
/// empty subject, and an address with no merge field or drop-in in it (so every recipient
/// gets it as written) that is not an address. The Mailer would otherwise fail each
/// recipient, and the check would have said nothing.
fn header_problems(spec: &MessageSpec) -> Vec<MergeError> {
    let mut problems = Vec::new();
    let whole = |source: &str, message: String| MergeError {
        source: source.to_string(),
        line: 1,
        column: 1,
        message,
    };
    if spec.subject.trim().is_empty() {
        problems.push(whole("subject", "the subject is empty".into()));
    }
    let merged = |text: &str| text.contains('&') || text.contains("{{");
    let from = spec.from_address.trim();
    if from.is_empty() {
        problems.push(whole(
            "sender address",
            "the sender address is missing".into(),
        ));
    } else if !merged(from) && !valid_address(from) {
        problems.push(whole(
            "sender address",
            format!("\"{from}\" is not an e-mail address (name@domain.example)"),
        ));
    }
    let reply_to = spec.reply_to.trim();
    if !reply_to.is_empty() && !merged(reply_to) && !valid_address(reply_to) {
        problems.push(whole(
            "reply-to",
            format!("\"{reply_to}\" is not an e-mail address (name@domain.example)"),
        ));
    }
    for a in &spec.attachments {
        if let Err(e) = check_content_type(&a.content_type) {
            problems.push(whole(&format!("file {}", a.filename), e));
        }
    }
    problems
}

/// Checks a file's Content-Type: a bare `type/subtype` of RFC 2045 token characters, so
/// that nothing written there can add parameters (`; name=…`) or headers to its part.
pub fn check_content_type(content_type: &str) -> Result<(), String> {
    let token = |t: &str| {
        (1..=127).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    match content_type.split_once('/') {
        Some((kind, subtype)) if token(kind) && token(subtype) => Ok(()),
        _ => Err(
            "the Content-Type must be a bare type/subtype such as image/png or application/pdf \
             (letters, digits and !#$%&'*+-.^_`{|}~; no parameters)"
                .into(),
        ),
    }
}

fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && address
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
}

/// One recipient's message before MIME encoding: what a preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    /// With tracked links and the open pixel in place.
    pub html: Option<String>,
    pub text: Option<String>,
}

impl Composer {
    /// Merges every text for one recipient. Fails only when the recipient's own data makes
    /// an address invalid.
    pub fn render<F: FieldValues + ?Sized, T: TrackingUrls>(
        &self,
        values: &F,
        tracking: &T,
    ) -> Result<Rendered, String> {
        let fields = NoSlots(values);
        fn too_large(what: &'static str) -> impl Fn(TooLarge) -> String {
            move |e| format!("the {what}: {e}")
        }
        let from_address = self
            .from_address
            .try_render(&fields)
            .map_err(too_large("sender address"))?;
        if !valid_address(from_address.trim()) {
            return Err(format!(
                "the sender address comes out as \"{from_address}\", which is not an address"
            ));
        }
        let reply_to = self
            .reply_to
            .as_ref()
            .map(|t| t.try_render(&fields))
            .transpose()
            .map_err(too_large("reply-to"))?;
        if let Some(r) = &reply_to
            && !valid_address(r.trim())
        {
            return Err(format!(
                "the reply-to comes out as \"{r}\", which is not an address"
            ));
        }
        let part = |html: bool| PartRecipient {
            composer: self,
            fields: values,
            tracking,
            html,
        };
        Ok(Rendered {
            html: self
                .html
                .as_ref()
                .map(|t| t.try_render(&part(true)))
                .transpose()
                .map_err(too_large("HTML body"))?,
            text: self
                .text
                .as_ref()
                .map(|t| t.try_render(&part(false)))
                .transpose()
                .map_err(too_large("text body"))?,
            subject: self
                .subject
                .try_render(&fields)
                .map_err(too_large("subject"))?,
            from_name: self
                .from_name
                .try_render(&fields)
                .map_err(too_large("sender name"))?,
            from_address,
            reply_to,
        })
    }

    /// Writes the whole message (headers and body, CRLF line ends) for one recipient.
    /// Fails only when the recipient's own data makes an address header invalid.
    pub fn compose<F: FieldValues + ?Sized, T: TrackingUrls>(
        &self,
        envelope: &Envelope<'_, F>,
        tracking: &T,
        out: &mut Vec<u8>,
    ) -> Result<Written, String> {
        let Rendered {
            subject,
            from_name,
            from_address,
            reply_to,
            html,
            text,
        } = self.render(envelope.fields, tracking)?;
        let fits = |s: &str| self.charset.encode(s).is_ok();
        let all_fit = html.as_deref().is_none_or(fits)
            && text.as_deref().is_none_or(fits)
            && fits(&subject)
            && fits(&from_name)
            && fits(envelope.name);
        let charset = if all_fit {
            self.charset
        } else {
            Charset::UTF_8
        };

        let mut head = String::with_capacity(1024);
        let mut unsubscribe = String::new();
        tracking.unsubscribe(&mut unsubscribe);
        head.push_str(&format!("Date: {}\r\n", envelope.date));
        head.push_str(&format!(
            "From: {}\r\n",
            mailbox(&from_name, from_address.trim(), charset)
        ));
        if let Some(r) = &reply_to {
            head.push_str(&format!("Reply-To: {}\r\n", r.trim()));
        }
        head.push_str(&format!(
            "To: {}\r\n",
            mailbox(envelope.name, envelope.address, charset)
        ));
        head.push_str(&format!("Subject: {}\r\n", header_text(&subject, charset)));
        head.push_str(&format!("Message-ID: <{}>\r\n", envelope.message_id));
        head.push_str("MIME-Version: 1.0\r\n");
        head.push_str(&format!("List-Unsubscribe: <{unsubscribe}>\r\n"));
        head.push_str("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
        head.push_str(&format!(
            "Feedback-ID: {}:tutti\r\nX-Tutti-Job: {}\r\n",
            self.job, self.job
        ));
        out.extend_from_slice(head.as_bytes());
        self.write_body(&self.body, charset, html.as_deref(), text.as_deref(), out);
        Ok(Written {
            utf8_fallback: !all_fit,
            from_address: from_address.trim().to_string(),
        })
    }

    fn write_body(
        &self,
        body: &Body,
        charset: Charset,
        html: Option<&str>,
        text: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        match body {
            Body::Html => write_text_part("html", html.unwrap_or_default(), charset, out),
            Body::Text => write_text_part("plain", text.unwrap_or_default(), charset, out),
            Body::Binary { headers, encoded } => {
                out.extend_from_slice(headers.as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(encoded);
            }
            Body::Multipart {
                subtype,
                boundary,
                parts,
            } => {
                out.extend_from_slice(
                    format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n")
                        .as_bytes(),
                );
                for p in parts {
                    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    self.write_body(p, charset, html, text, out);
                }
                out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            }
        }
    }
}

fn write_text_part(subtype: &str, text: &str, charset: Charset, out: &mut Vec<u8>) {
    let bytes = charset
        .encode(text)
        .unwrap_or(std::borrow::Cow::Borrowed(text.as_bytes()));
    let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
    // Quoted-printable keeps mostly-ASCII text readable; base64 is smaller for the rest.
    let base64 =
        (charset.is_multibyte() && charset != Charset::UTF_8) || non_ascii * 3 > bytes.len();
    out.extend_from_slice(
        format!(
            "Content-Type: text/{subtype}; charset=\"{}\"\r\nContent-Transfer-Encoding: {}\r\n\r\n",
            charset.name(),
            if base64 { "base64" } else { "quoted-printable" }
        )
        .as_bytes(),
    );
    if base64 {
        let mut crlf = Vec::with_capacity(bytes.len() + bytes.len() / 40);
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                crlf.extend_from_slice(b"\r\n");
            }
            crlf.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        }
        base64_lines(&crlf, out);
    } else {
        quoted_printable(&bytes, out);
        out.extend_from_slice(b"\r\n");
    }
}
