//! The template environment every mail and page is rendered in.
//!
//! HTML templates are escaped automatically, as minijinja does, but without its escaping of
//! `/` to `&#x2f;`: the characters HTML needs escaped are `& < > " '`, and a link written
//! `https:&#x2f;&#x2f;…` is split by quoted-printable, missed by link scanners and reads as
//! obfuscation to spam filters.

use minijinja::{AutoEscape, Environment, Error, Output, State, Value};

/// The most work one render may do, in minijinja's fuel (about one unit per instruction).
/// A digest of a thousand posts through the default templates takes well under a hundredth
/// of it; a template looping without end (three nested `range(10000)`) stops within a
/// second with an error naming it, instead of burning a core until the process is killed.
pub const FUEL: u64 = 20_000_000;

/// A new environment with HTML escaping that leaves `/` alone, and a fuel budget.
pub fn environment() -> Environment<'static> {
    let mut env = bare();
    env.set_formatter(format);
    env
}

/// A new environment with minijinja's own escaping, and a fuel budget: every template
/// tidings renders runs with one.
pub fn bare() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env
}

fn format(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if *state.auto_escape() != AutoEscape::Html
        || value.is_safe()
        || value.is_undefined()
        || value.is_none()
    {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = match value.as_str() {
        Some(text) => std::borrow::Cow::Borrowed(text),
        None => std::borrow::Cow::Owned(value.to_string()),
    };
    write_escaped(out, &text).map_err(Error::from)
}

/// Writes `text` with `& < > " '` escaped (the `html-escape` crate's attribute escaping,
/// safe in text and in either kind of quoted attribute).
fn write_escaped(out: &mut Output, text: &str) -> std::fmt::Result {
    out.write_str(&html_escape::encode_quoted_attribute(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_that_loops_without_end_runs_out_of_fuel() {
        let env = environment();
        let error = env
            .render_str(
                "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}x{% endfor %}{% endfor %}{% endfor %}",
                (),
            )
            .unwrap_err();
        assert_eq!(error.kind(), minijinja::ErrorKind::OutOfFuel, "{error}");
    }

    #[test]
    fn html_escapes_the_five_and_leaves_slashes() {
        let mut env = environment();
        env.add_template(
            "t.html",
            "<a href=\"{{ url }}\">{{ title }}</a> {{ n }} {{ safe }}",
        )
        .unwrap();
        env.add_template("t.txt", "{{ url }} {{ title }}").unwrap();
        let ctx = minijinja::context! {
            url => "https://example.org/a/b?x=1&y=2",
            title => "<b>\"Rust\" & 'C'</b>",
            n => 3,
            safe => Value::from_safe_string("<i>ok</i>".into()),
        };
        assert_eq!(
            env.get_template("t.html").unwrap().render(&ctx).unwrap(),
            "<a href=\"https://example.org/a/b?x=1&amp;y=2\">&lt;b&gt;&quot;Rust&quot; &amp; &#x27;C&#x27;&lt;/b&gt;</a> 3 <i>ok</i>"
        );
        assert_eq!(
            env.get_template("t.txt").unwrap().render(&ctx).unwrap(),
            "https://example.org/a/b?x=1&y=2 <b>\"Rust\" & 'C'</b>"
        );
    }
}
