//! Finding a message's links and putting slot markers where the per-recipient URL goes.
//!
//! As in the reference, a link is a quoted `http(s)` URL: `href="…"` of `<a>` and `<area>`
//! in HTML (found with lol_html, so markup, comments and scripts are read as a browser
//! would), `"http…"` in plain text. This runs once per job, on the texts before merging,
//! so a URL may hold merge fields; each recipient then only fills the slot in.

use lol_html::{RewriteStrSettings, element, rewrite_str};
use tutti_merge::slot_marker;

/// The links of a job, in the order they were first found; the same URL found twice is one
/// link (one row in the report), also when the HTML writes it with character references
/// (`&amp;`) and the text part without.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTable {
    /// Each link's URL, with the HTML's character references decoded (merge fields kept).
    pub urls: Vec<String>,
}

/// Slots below this number are the message's own (unsubscribe URL, open pixel); link N
/// is slot `FIRST_LINK_SLOT + N`.
pub const FIRST_LINK_SLOT: usize = 8;

impl LinkTable {
    fn slot_for(&mut self, url: &str) -> usize {
        let index = match self.urls.iter().position(|u| u == url) {
            Some(i) => i,
            None => {
                self.urls.push(url.to_string());
                self.urls.len() - 1
            }
        };
        FIRST_LINK_SLOT + index
    }
}

fn is_web_url(url: &str) -> bool {
    let lower = url
        .trim_start()
        .get(..8)
        .unwrap_or(url)
        .to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Puts a slot marker in place of every tracked link of an HTML text; `decode` turns an
/// `href` as written into the URL it stands for (its character references decoded).
pub fn mark_html(
    html: &str,
    links: &mut LinkTable,
    decode: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let table = std::cell::RefCell::new(std::mem::take(links));
    let rewrite = |el: &mut lol_html::html_content::Element| {
        if let Some(href) = el.get_attribute("href")
            && is_web_url(&href)
        {
            let slot = table.borrow_mut().slot_for(&decode(href.trim()));
            el.set_attribute("href", &slot_marker(slot))?;
        }
        Ok(())
    };
    let result = rewrite_str(
        html,
        RewriteStrSettings::new()
            .append_element_content_handler(element!("a[href]", |el| rewrite(el)))
            .append_element_content_handler(element!("area[href]", |el| rewrite(el))),
    );
    *links = table.into_inner();
    result.map_err(|e| format!("the HTML cannot be read: {e}"))
}

/// Puts a slot marker in place of every `"http…"` of a plain text (the URL ends at the
/// closing quote, on the same line).
pub fn mark_text(text: &str, links: &mut LinkTable) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(quote) = rest.find('"') {
        out.push_str(&rest[..=quote]);
        rest = &rest[quote + 1..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        if is_web_url(rest)
            && let Some(close) = rest[..line_end].find('"')
        {
            let slot = links.slot_for(&rest[..close]);
            out.push_str(&slot_marker(slot));
            out.push('"');
            rest = &rest[close + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Adds the open-tracking image (its `src` a slot marker) at the end of the HTML body.
pub fn add_open_pixel(html: &str, slot: usize) -> Result<String, String> {
    let pixel = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\">",
        slot_marker(slot)
    );
    let added = std::rc::Rc::new(std::cell::Cell::new(false));
    let out = rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(element!("body", |el| {
            let pixel = pixel.clone();
            let added = added.clone();
            el.on_end_tag(lol_html::end_tag!(move |end| {
                end.before(&pixel, lol_html::html_content::ContentType::Html);
                added.set(true);
                Ok(())
            }))?;
            Ok(())
        })),
    )
    .map_err(|e| format!("the HTML cannot be read: {e}"))?;
    Ok(if added.get() { out } else { out + &pixel })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_become_slots_once_per_url() {
        let mut links = LinkTable::default();
        let html = "<p><a href=\"https://shop.example/?a=1&amp;id=&ID;\">Shop</a> <a href='mailto:x@y'>m</a> <a href=\"#top\">t</a>\n.BB &A = 1\n<A HREF=\"https://shop.example/?a=1&amp;id=&ID;\">again</A><area href=\"http://map.example/\"></p><!-- <a href=\"https://comment.example/\"> -->";
        let out = mark_html(html, &mut links, &|u| u.replace("&amp;", "&")).unwrap();
        assert_eq!(
            links.urls,
            vec!["https://shop.example/?a=1&id=&ID;", "http://map.example/"]
        );
        assert_eq!(out.matches(&slot_marker(FIRST_LINK_SLOT)).count(), 2);
        // The same URL in the text part, where `&` is written as it is, is the same link.
        let text = mark_text("Shop: \"https://shop.example/?a=1&id=&ID;\"\n", &mut links);
        assert_eq!(links.urls.len(), 2);
        assert!(text.contains(&slot_marker(FIRST_LINK_SLOT)), "{text}");
        assert!(out.contains(&slot_marker(FIRST_LINK_SLOT + 1)));
        assert!(out.contains("href='mailto:x@y'") && out.contains("href=\"#top\""));
        assert!(out.contains(".BB &A = 1\n"), "merge text is left alone");
        assert!(
            out.contains("https://comment.example/"),
            "comments are not links"
        );
    }

    #[test]
    fn text_links_are_quoted_urls() {
        let mut links = LinkTable {
            urls: vec!["https://shop.example/".into()],
        };
        let out = mark_text(
            "Shop: \"https://shop.example/\"\nDocs: \"http://docs.example/?u=&ID;\" and \"not a link\" and \"https://broken\nnext",
            &mut links,
        );
        assert_eq!(links.urls[1], "http://docs.example/?u=&ID;");
        assert_eq!(
            out,
            format!(
                "Shop: \"{}\"\nDocs: \"{}\" and \"not a link\" and \"https://broken\nnext",
                slot_marker(FIRST_LINK_SLOT),
                slot_marker(FIRST_LINK_SLOT + 1)
            )
        );
    }

    #[test]
    fn the_open_pixel_goes_before_the_end_of_the_body() {
        let out = add_open_pixel("<html><body><p>Hi</p></body></html>", 1).unwrap();
        assert!(out.ends_with("</p><img src=\"\u{FDD0}1\u{FDD1}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\"></body></html>"), "{out}");
        let bare = add_open_pixel("<p>Hi</p>", 1).unwrap();
        assert!(bare.starts_with("<p>Hi</p><img "));
    }
}
