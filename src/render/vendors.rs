//! How an offline push's title and description look on each Android vendor's notification:
//! each cuts at its own length, counted in UTF-16 units, and shows `...` (reference §3.4).
//! Pure.

use serde::Serialize;
use serde_json::Value;

/// One vendor's limits, in UTF-16 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor {
    pub name: &'static str,
    pub title: usize,
    pub desc: usize,
    /// The description's limit with `AndroidInfo.PushStyle` 1 (OPPO's long style), if it differs.
    pub desc_long: Option<usize>,
}

/// The vendors of the reference's table.
pub const VENDORS: [Vendor; 6] = [
    Vendor {
        name: "Huawei",
        title: 60,
        desc: 600,
        desc_long: None,
    },
    Vendor {
        name: "Honor",
        title: 50,
        desc: 400,
        desc_long: None,
    },
    Vendor {
        name: "Mi",
        title: 50,
        desc: 128,
        desc_long: None,
    },
    Vendor {
        name: "OPPO",
        title: 50,
        desc: 50,
        desc_long: Some(128),
    },
    Vendor {
        name: "vivo",
        title: 40,
        desc: 100,
        desc_long: None,
    },
    Vendor {
        name: "Meizu",
        title: 32,
        desc: 100,
        desc_long: None,
    },
];

/// One vendor cutting one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    pub vendor: &'static str,
    /// `title` or `desc`.
    pub field: &'static str,
    /// The field's length, in UTF-16 units.
    pub units: usize,
    pub limit: usize,
    /// What the phone shows: the text cut at the limit (never inside a character), then `...`.
    pub shown: String,
}

impl Cut {
    /// What the phone shows, short enough for one line: the last 16 characters before the cut.
    #[must_use]
    pub fn shown_short(&self) -> String {
        let kept = self.shown.trim_end_matches("...");
        let n = kept.chars().count();
        if n <= 24 {
            return self.shown.clone();
        }
        let tail: String = kept.chars().skip(n - 16).collect();
        format!("…{tail}...")
    }
}

/// The length in UTF-16 units (an emoji outside the BMP counts 2).
#[must_use]
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut to at most `limit` UTF-16 units, whole characters only.
#[must_use]
pub fn cut(text: &str, limit: usize) -> String {
    let mut units = 0;
    let mut out = String::new();
    for c in text.chars() {
        units += c.len_utf16();
        if units > limit {
            break;
        }
        out.push(c);
    }
    out
}

/// The vendors that cut `title` or `desc` (only those), vendor by vendor.
#[must_use]
pub fn cuts(title: Option<&str>, desc: Option<&str>, long_style: bool) -> Vec<Cut> {
    let mut out = Vec::new();
    for v in VENDORS {
        let desc_limit = if long_style {
            v.desc_long.unwrap_or(v.desc)
        } else {
            v.desc
        };
        for (field, text, limit) in [("title", title, v.title), ("desc", desc, desc_limit)] {
            let Some(text) = text else { continue };
            let units = utf16_len(text);
            if units > limit {
                out.push(Cut {
                    vendor: v.name,
                    field,
                    units,
                    limit,
                    shown: format!("{}...", cut(text, limit)),
                });
            }
        }
    }
    out
}

/// The cuts of a rendered request's `OfflinePushInfo`.
#[must_use]
pub fn cuts_of_request(request: &Value) -> Vec<Cut> {
    let Some(op) = request.get("OfflinePushInfo") else {
        return Vec::new();
    };
    let long = op.pointer("/AndroidInfo/PushStyle").and_then(Value::as_u64) == Some(1);
    cuts(
        op.get("Title").and_then(Value::as_str),
        op.get("Desc").and_then(Value::as_str),
        long,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_utf16_units_and_cuts_keep_whole_characters() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("黑色星期五"), 5, "BMP: one unit each");
        assert_eq!(utf16_len("😀😀"), 4, "outside the BMP: two units each");
        // A limit that falls inside an emoji's pair drops the whole emoji.
        assert_eq!(cut("ab😀c", 3), "ab");
        assert_eq!(cut("ab😀c", 4), "ab😀");
        assert_eq!(cut("黑色星期五", 2), "黑色");
    }

    #[test]
    fn only_the_vendors_that_cut_are_named() {
        let title = "x".repeat(45);
        let c = cuts(Some(&title), Some("short"), false);
        let names: Vec<&str> = c.iter().map(|c| c.vendor).collect();
        assert_eq!(names, ["vivo", "Meizu"]);
        assert_eq!(c[0].shown, format!("{}...", "x".repeat(40)));
        assert_eq!(c[0].shown_short(), format!("…{}...", "x".repeat(16)));
        assert_eq!(c[1].shown_short(), format!("…{}...", "x".repeat(16)));
        assert_eq!((c[1].units, c[1].limit), (45, 32));
        // OPPO's description: 50 units, or 128 in its long style.
        let desc = "d".repeat(60);
        let plain: Vec<&str> = cuts(None, Some(&desc), false)
            .iter()
            .map(|c| c.vendor)
            .collect();
        assert_eq!(plain, ["OPPO"]);
        assert!(cuts(None, Some(&desc), true).is_empty());
        // Emoji count double: 20 emoji are 40 units, within vivo's title, past Meizu's.
        let emoji = "😀".repeat(20);
        let c = cuts(Some(&emoji), None, false);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].vendor, "Meizu");
        assert_eq!(c[0].shown, format!("{}...", "😀".repeat(16)));
        let req = serde_json::json!({"OfflinePushInfo": {"Title": emoji, "AndroidInfo": {"PushStyle": 1}}});
        assert_eq!(cuts_of_request(&req).len(), 1);
        assert!(cuts_of_request(&serde_json::json!({})).is_empty());
    }
}
