//! Reading one bounce report: a delivery status notification (RFC 3464: a hard bounce
//! when a recipient's action is `failed` with a 5.x.x status, soft with 4.x.x or
//! `delayed`) or a complaint (ARF, RFC 5965: `message/feedback-report`). The MIME is
//! `mail-parser`'s; the status and feedback fields are `Name: value` lines read here.
//!
//! A report is believed only for an address whose signed return-path token it carries
//! (`bounces+TOKEN@…` in its own headers, its status fields or the returned message):
//! anyone can mail the bounce address, no one else can make that token.

use mail_parser::{MessageParser, MimeHeaders};

use crate::store::bounces::{BOUNCED, COMPLAINED};

/// The largest report read; a real one is a few KB plus the returned message's headers.
pub const MAX_REPORT_BYTES: usize = 1 << 20;
/// Recipients read from one report.
const MAX_RECIPIENTS: usize = 100;

/// What a report says about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The address does not take mail (`5.1.1 user unknown`): off every list at once.
    Hard(String),
    /// Try later (`4.2.2 mailbox full`): counted.
    Soft(String),
    /// The reader marked the mail as spam: off every list at once.
    Complaint(String),
}

#[cfg(test)]
impl Verdict {
    /// Its kind in a word, for tests that compare many.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Hard(_) => "hard",
            Verdict::Soft(_) => "soft",
            Verdict::Complaint(_) => "complaint",
        }
    }
}

/// One address a report is about, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub address: String,
    pub verdict: Verdict,
}

/// What one message in the bounce mailbox turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Addresses whose token the report carries, with their verdicts (none: a report of
    /// delivery, or of a delay too short to count).
    Findings(Vec<Finding>),
    /// A report naming only addresses whose token it does not carry: not believed.
    Unsigned(Vec<String>),
    /// No delivery status or feedback report in it (an auto-reply, a reader's answer).
    NotAReport,
}

/// Reads one report. `return_user` is the return path's local part (`bounces`), whose
/// `+TOKEN` extensions are looked for; `signed(address, token)` checks a token.
pub fn read(bytes: &[u8], return_user: &str, signed: impl Fn(&str, &str) -> bool) -> Read {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return Read::NotAReport;
    };
    let tokens = tokens_in(bytes, return_user);
    let mut named: Vec<(String, Verdict)> = Vec::new();
    let mut returned_to: Vec<String> = Vec::new();
    let mut complaint: Option<(String, Vec<String>)> = None;
    let mut is_report = false;
    for part in &message.parts {
        let Some(kind) = part.content_type() else {
            continue;
        };
        let (main, sub) = (
            kind.ctype().to_ascii_lowercase(),
            kind.subtype().unwrap_or("").to_ascii_lowercase(),
        );
        let body = String::from_utf8_lossy(part.contents());
        match (main.as_str(), sub.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                is_report = true;
                named.extend(delivery_status(&body));
            }
            ("message", "feedback-report") => {
                is_report = true;
                let groups = field_groups(&body);
                let fields = groups.first().cloned().unwrap_or_default();
                let feedback = field(&fields, "feedback-type")
                    .unwrap_or("abuse")
                    .to_owned();
                let recipients = fields
                    .iter()
                    .filter(|(name, _)| name == "original-rcpt-to")
                    .filter_map(|(_, value)| address_in(value))
                    .collect();
                complaint = Some((feedback, recipients));
            }
            ("message", "rfc822" | "global") | ("text", "rfc822-headers") => {
                returned_to.extend(header_addresses(&body, "to"));
            }
            _ => {}
        }
    }
    if let Some((feedback, mut recipients)) = complaint {
        // A report without Original-Rcpt-To names its reader in the returned message.
        if recipients.is_empty() {
            recipients = returned_to;
        }
        named.extend(
            recipients
                .into_iter()
                .map(|a| (a, Verdict::Complaint(format!("{COMPLAINED}: {feedback}")))),
        );
    }
    if !is_report {
        return Read::NotAReport;
    }
    named.truncate(MAX_RECIPIENTS);
    let mut findings = Vec::new();
    let mut unsigned = Vec::new();
    for (address, verdict) in named {
        if tokens.iter().any(|token| signed(&address, token)) {
            if !findings.iter().any(|f: &Finding| f.address == address) {
                findings.push(Finding { address, verdict });
            }
        } else {
            unsigned.push(address);
        }
    }
    if findings.is_empty() && !unsigned.is_empty() {
        Read::Unsigned(unsigned)
    } else {
        Read::Findings(findings)
    }
}

/// The recipients a `message/delivery-status` body reports failed or delayed.
fn delivery_status(body: &str) -> Vec<(String, Verdict)> {
    let mut out = Vec::new();
    // The first group is about the message; each later one about one recipient.
    for fields in field_groups(body).iter().skip(1).take(MAX_RECIPIENTS) {
        let Some(address) = field(fields, "final-recipient")
            .or_else(|| field(fields, "original-recipient"))
            .and_then(address_in)
        else {
            continue;
        };
        let action = field(fields, "action").unwrap_or("").to_ascii_lowercase();
        let status = field(fields, "status")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("")
            .to_owned();
        let diagnostic = field(fields, "diagnostic-code")
            .map(|d| {
                let d = d.split_once(';').map_or(d, |(_, text)| text).trim();
                format!(" ({})", d.chars().take(120).collect::<String>())
            })
            .unwrap_or_default();
        let said = format!("{status}{diagnostic}");
        let verdict = match (action.as_str(), status.chars().next()) {
            ("failed", Some('5')) => Verdict::Hard(format!("{BOUNCED}: {said}")),
            ("failed", _) | ("delayed", _) => Verdict::Soft(said),
            _ => continue, // delivered, relayed, expanded
        };
        out.push((address, verdict));
    }
    out
}

/// `Name: value` fields in groups separated by blank lines; names in lower case, folded
/// lines joined.
fn field_groups(body: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in body.lines().take(10_000) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut()
                && value.len() < 4096
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The address in `rfc822; ada@example.org`, `<ada@example.org>` or a bare one, in lower
/// case.
fn address_in(value: &str) -> Option<String> {
    let value = value.split_once(';').map_or(value, |(_, a)| a);
    let value = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (local, domain) = value.rsplit_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && value.len() <= 254
        && !value.contains(|c: char| c.is_whitespace() || c == '<' || c == '>');
    plausible.then(|| value.to_lowercase())
}

/// The addresses of header `name` in a block of headers (a returned message's).
fn header_addresses(headers: &str, name: &str) -> Vec<String> {
    let Some(parsed) = MessageParser::default().parse_headers(headers.as_bytes()) else {
        return Vec::new();
    };
    let Some(list) = parsed.header(name).and_then(|h| h.as_address()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| a.address())
        .filter_map(address_in)
        .take(MAX_RECIPIENTS)
        .collect()
}

/// The `+TOKEN` extensions of `user@` anywhere in the report (20 hex digits each).
fn tokens_in(bytes: &[u8], user: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    let needle = format!("{}+", user.to_ascii_lowercase());
    let mut tokens: Vec<String> = Vec::new();
    for (at, _) in text.match_indices(&needle) {
        let rest = &text[at + needle.len()..];
        let token: String = rest.chars().take(21).collect();
        if token.len() == 21
            && token.ends_with('@')
            && token[..20].chars().all(|c| c.is_ascii_hexdigit())
            && !tokens.iter().any(|t| t == &token[..20])
        {
            tokens.push(token[..20].to_owned());
        }
        if tokens.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{is_return_token, return_token};

    const SECRET: &[u8] = b"0123456789abcdef";

    fn signed(address: &str, token: &str) -> bool {
        is_return_token(SECRET, address, token)
    }

    /// A DSN as Postfix writes one, for mail sent from `bounces+TOKEN@news.example`.
    fn dsn(recipient: &str, action: &str, status: &str, token_for: &str) -> Vec<u8> {
        let token = return_token(SECRET, token_for);
        format!(
            "Return-Path: <>\r\nDelivered-To: bounces+{token}@news.example\r\n\
             From: MAILER-DAEMON@mx.news.example (Mail Delivery System)\r\n\
             Subject: Undelivered Mail Returned to Sender\r\n\
             To: bounces+{token}@news.example\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
             --B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
             This is the mail system at host mx.news.example.\r\n\r\n\
             --B1\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; mx.news.example\r\nArrival-Date: Sun,  6 Dec 2026 06:00:00 +0000\r\n\r\n\
             Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n\
             Action: {action}\r\nStatus: {status}\r\n\
             Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address\r\n    rejected: User unknown\r\n\r\n\
             --B1\r\nContent-Type: text/rfc822-headers\r\n\r\n\
             Return-Path: <bounces+{token}@news.example>\r\nFrom: News <news@news.example>\r\n\
             To: {recipient}\r\nSubject: Today's news\r\n\r\n--B1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_hard_bounce_names_its_recipient() {
        let read = read(
            &dsn("Ada@Example.org", "failed", "5.1.1", "ada@example.org"),
            "bounces",
            signed,
        );
        let Read::Findings(findings) = read else {
            panic!("{read:?}");
        };
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].address, "ada@example.org");
        let Verdict::Hard(reason) = &findings[0].verdict else {
            panic!("{findings:?}");
        };
        assert!(reason.starts_with("bounced: 5.1.1 (550 5.1.1"), "{reason}");
        assert!(
            reason.contains("rejected: User unknown"),
            "folded line joined: {reason}"
        );
    }

    #[test]
    fn soft_bounces_delays_and_deliveries() {
        let soft = read(
            &dsn("a@example.org", "failed", "4.2.2", "a@example.org"),
            "bounces",
            signed,
        );
        assert!(
            matches!(&soft, Read::Findings(f) if matches!(f[0].verdict, Verdict::Soft(_))),
            "{soft:?}"
        );
        let delayed = read(
            &dsn("a@example.org", "delayed", "4.4.7", "a@example.org"),
            "bounces",
            signed,
        );
        assert!(matches!(&delayed, Read::Findings(f) if matches!(f[0].verdict, Verdict::Soft(_))));
        let delivered = read(
            &dsn("a@example.org", "delivered", "2.0.0", "a@example.org"),
            "bounces",
            signed,
        );
        assert_eq!(delivered, Read::Findings(Vec::new()));
    }

    /// A report for another address's token, or with none, takes no one off.
    #[test]
    fn a_forged_report_is_not_believed() {
        let forged = read(
            &dsn(
                "victim@example.org",
                "failed",
                "5.1.1",
                "attacker@example.org",
            ),
            "bounces",
            signed,
        );
        assert_eq!(forged, Read::Unsigned(vec!["victim@example.org".into()]));
        let other_secret = |a: &str, t: &str| is_return_token(b"another site's secret", a, t);
        let read = read(
            &dsn("a@example.org", "failed", "5.1.1", "a@example.org"),
            "bounces",
            other_secret,
        );
        assert!(matches!(read, Read::Unsigned(_)));
    }

    /// An ARF complaint as a mailbox provider's feedback loop sends it: the reader is the
    /// returned message's recipient.
    #[test]
    fn a_complaint_names_the_reader() {
        let token = return_token(SECRET, "grumpy@example.net");
        let arf = format!(
            "From: fbl@provider.example\r\nTo: abuse@news.example\r\nSubject: FW: Today's news\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
             --F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
             --F\r\nContent-Type: message/feedback-report\r\n\r\n\
             Feedback-Type: abuse\r\nUser-Agent: ProviderFBL/1.0\r\nVersion: 1\r\n\
             Original-Mail-From: <bounces+{token}@news.example>\r\n\r\n\
             --F\r\nContent-Type: message/rfc822\r\n\r\n\
             Return-Path: <bounces+{token}@news.example>\r\nFrom: News <news@news.example>\r\n\
             To: Grumpy <Grumpy@example.net>\r\nSubject: Today's news\r\n\r\nThe news.\r\n--F--\r\n"
        );
        assert_eq!(
            read(arf.as_bytes(), "bounces", signed),
            Read::Findings(vec![Finding {
                address: "grumpy@example.net".into(),
                verdict: Verdict::Complaint("complained: abuse".into()),
            }])
        );
    }

    #[test]
    fn an_auto_reply_is_not_a_report() {
        let reply = b"From: a@example.org\r\nTo: bounces+00@news.example\r\nSubject: Out of office\r\n\r\nAway.\r\n";
        assert_eq!(read(reply, "bounces", signed), Read::NotAReport);
        assert_eq!(
            read(b"\xff\xfe garbage", "bounces", signed),
            Read::NotAReport
        );
    }
}
