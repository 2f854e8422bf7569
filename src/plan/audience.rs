//! Audiences compared and read. One rule decides whether an edit widens, narrows or replaces who
//! a campaign reaches: the change view says it in words, and the `audience-widened` warning (the
//! `widened_audience` policy) fires when the new audience can reach users the old one could not
//! (widened or replaced). Pure.

use super::model::{AudienceChange, AudienceDirection};
use crate::spec::campaign::Audience;
use std::collections::BTreeSet;

/// Who an audience reaches, as sets: every user, or a condition over one kind of item (tags, or
/// attribute `key = value` pairs). A user matches a condition when it has one of `any` (when
/// given), all of `all` and none of `none`.
#[derive(Debug, PartialEq, Eq)]
enum Reach {
    All,
    Condition {
        /// `tags` or `attrs`.
        kind: &'static str,
        any: Option<BTreeSet<String>>,
        all: BTreeSet<String>,
        none: BTreeSet<String>,
    },
}

impl Reach {
    fn of(a: &Audience) -> Self {
        let set = |l: Option<&Vec<String>>| -> BTreeSet<String> {
            l.map(|l| l.iter().cloned().collect()).unwrap_or_default()
        };
        let pairs = |m: Option<&indexmap::IndexMap<String, String>>| -> BTreeSet<String> {
            m.map(|m| m.iter().map(|(k, v)| format!("{k} = {v}")).collect())
                .unwrap_or_default()
        };
        match a {
            Audience::All(_) => Self::All,
            Audience::Tags(t) => Self::Condition {
                kind: "tags",
                any: t.any.as_ref().map(|l| set(Some(l))),
                all: set(t.all.as_ref()),
                none: set(t.none.as_ref()),
            },
            Audience::Attrs(a) => Self::Condition {
                kind: "attrs",
                any: a.any.as_ref().map(|m| pairs(Some(m))),
                all: pairs(a.all.as_ref()),
                none: BTreeSet::new(),
            },
        }
    }
}

/// Whether every user `inner` reaches is reached by `outer` too (sufficient conditions; a
/// condition that reaches nobody is not detected, so such a pair reads as not within).
fn within(inner: &Reach, outer: &Reach) -> bool {
    match (inner, outer) {
        (_, Reach::All) => true,
        (Reach::All, Reach::Condition { .. }) => false,
        (
            Reach::Condition {
                kind: ik,
                any: ia,
                all: il,
                none: inn,
            },
            Reach::Condition {
                kind: ok,
                any: oa,
                all: ol,
                none: on,
            },
        ) => {
            ik == ok
                && ol.is_subset(il)
                && on.is_subset(inn)
                && oa.as_ref().is_none_or(|oa| {
                    ia.as_ref().is_some_and(|ia| ia.is_subset(oa)) || !il.is_disjoint(oa)
                })
        }
    }
}

fn listed(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// What `new` reaches that `old` did not (`widen`), or what it no longer reaches, in words, one
/// reason per differing list.
fn reasons(old: &Reach, new: &Reach, widen: bool) -> Vec<String> {
    let (
        Reach::Condition {
            kind: ok,
            any: oa,
            all: ol,
            none: on,
        },
        Reach::Condition {
            kind: nk,
            any: na,
            all: nl,
            none: nn,
        },
    ) = (old, new)
    else {
        return vec![match (new, widen) {
            (Reach::All, _) => "the audience is now all users".to_owned(),
            _ => "the audience is no longer all users".to_owned(),
        }];
    };
    if ok != nk {
        return vec![format!(
            "the audience is now by {} instead of {}",
            if *nk == "tags" { "tags" } else { "attributes" },
            if *ok == "tags" { "tags" } else { "attributes" }
        )];
    }
    let k = *nk;
    let mut out = Vec::new();
    // From the new side's point of view: what it dropped (widens) or added (narrows).
    let (dropped_all, added_all) = (
        ol.difference(nl).cloned().collect::<BTreeSet<_>>(),
        nl.difference(ol).cloned().collect::<BTreeSet<_>>(),
    );
    let (dropped_none, added_none) = (
        on.difference(nn).cloned().collect::<BTreeSet<_>>(),
        nn.difference(on).cloned().collect::<BTreeSet<_>>(),
    );
    if widen {
        if k == "tags" && na.is_none() && nl.is_empty() && !(oa.is_none() && ol.is_empty()) {
            out.push(
                "the audience is now `tags.none` alone: every user without those tags".to_owned(),
            );
        }
        if !dropped_all.is_empty() {
            out.push(format!(
                "{k}.all no longer requires {}",
                listed(&dropped_all)
            ));
        }
        match (oa, na) {
            (Some(oa), Some(na)) => {
                let added: BTreeSet<String> = na.difference(oa).cloned().collect();
                if !added.is_empty() {
                    out.push(format!("{k}.any now also reaches {}", listed(&added)));
                }
            }
            (Some(oa), None) if out.is_empty() => {
                out.push(format!("{k}.any no longer limits it to {}", listed(oa)));
            }
            _ => {}
        }
        if !dropped_none.is_empty() {
            out.push(format!(
                "{k}.none no longer excludes {}",
                listed(&dropped_none)
            ));
        }
    } else {
        if !added_all.is_empty() {
            out.push(format!("{k}.all now also requires {}", listed(&added_all)));
        }
        match (oa, na) {
            (Some(oa), Some(na)) => {
                let removed: BTreeSet<String> = oa.difference(na).cloned().collect();
                if !removed.is_empty() {
                    out.push(format!("{k}.any no longer reaches {}", listed(&removed)));
                }
            }
            (None, Some(na)) => out.push(format!("{k}.any now limits it to {}", listed(na))),
            _ => {}
        }
        if !added_none.is_empty() {
            out.push(format!(
                "{k}.none now also excludes {}",
                listed(&added_none)
            ));
        }
    }
    out
}

/// How the audience changed from `old` to `new`: `None` when both reach the same users.
#[must_use]
pub fn compare(old: &Audience, new: &Audience) -> Option<AudienceChange> {
    let (o, n) = (Reach::of(old), Reach::of(new));
    let narrower = within(&n, &o);
    let wider = within(&o, &n);
    let direction = match (wider, narrower) {
        (true, true) => return None,
        (true, false) => AudienceDirection::Widened,
        (false, true) => AudienceDirection::Narrowed,
        (false, false) => AudienceDirection::Replaced,
    };
    let mut why = Vec::new();
    if !narrower {
        why.extend(reasons(&o, &n, true));
    }
    if !wider {
        for r in reasons(&o, &n, false) {
            if !why.contains(&r) {
                why.push(r);
            }
        }
    }
    if why.is_empty() {
        why.push("a different set of users".to_owned());
    }
    Some(AudienceChange {
        direction,
        before: words(old),
        after: words(new),
        why,
    })
}

/// An audience in words: `ALL USERS`, or who the tags and attributes reach (`users tagged VIP
/// and with any of Stock A, Stock B and with none of churned`).
#[must_use]
pub fn words(audience: &Audience) -> String {
    match audience {
        Audience::All(_) => "ALL USERS".to_owned(),
        Audience::Tags(t) => {
            let mut parts = Vec::new();
            if let Some(all) = &t.all {
                parts.push(format!("tagged {}", all.join(", ")));
            }
            if let Some(any) = &t.any {
                parts.push(format!("with any of {}", any.join(", ")));
            }
            if let Some(none) = &t.none {
                parts.push(format!("with none of {}", none.join(", ")));
            }
            format!("users {}", parts.join(" and "))
        }
        Audience::Attrs(a) => {
            let pairs = |m: &indexmap::IndexMap<String, String>| {
                m.iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut parts = Vec::new();
            if let Some(all) = &a.all {
                parts.push(format!("whose {} (all of these)", pairs(all)));
            }
            if let Some(any) = &a.any {
                parts.push(format!("with any of {}", pairs(any)));
            }
            format!("users {}", parts.join(" and "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{compare, words};
    use crate::plan::model::AudienceDirection::{Narrowed, Replaced, Widened};
    use crate::spec::campaign::Audience;

    fn a(yaml: &str) -> Audience {
        serde_json::from_value(crate::spec::yaml::parse(yaml).unwrap().value).unwrap()
    }

    fn direction(old: &str, new: &str) -> Option<crate::plan::model::AudienceDirection> {
        compare(&a(old), &a(new)).map(|c| c.direction)
    }

    #[test]
    fn all_users_is_wider_than_any_condition() {
        assert_eq!(
            direction("{tags: {any: [vip]}}", "{all: true}"),
            Some(Widened)
        );
        assert_eq!(
            direction("{all: true}", "{attrs: {all: {city: SZ}}}"),
            Some(Narrowed)
        );
        assert_eq!(direction("{all: true}", "{all: true}"), None);
        let c = compare(&a("{tags: {any: [vip]}}"), &a("{all: true}")).unwrap();
        assert_eq!(c.why, ["the audience is now all users"]);
        assert_eq!(c.before, "users with any of vip");
        assert_eq!(c.after, "ALL USERS");
    }

    #[test]
    fn tags_any_all_none() {
        // any: one more tag reaches more users; one fewer, fewer.
        let c = compare(&a("{tags: {any: [a]}}"), &a("{tags: {any: [a, b]}}")).unwrap();
        assert_eq!(c.direction, Widened);
        assert_eq!(c.why, ["tags.any now also reaches b"]);
        assert_eq!(
            direction("{tags: {any: [a, b]}}", "{tags: {any: [a]}}"),
            Some(Narrowed)
        );
        // all: a tag removed widens, one added narrows.
        let c = compare(&a("{tags: {all: [a, b]}}"), &a("{tags: {all: [a]}}")).unwrap();
        assert_eq!(
            (c.direction, c.why),
            (Widened, vec!["tags.all no longer requires b".to_owned()])
        );
        let c = compare(&a("{tags: {all: [a]}}"), &a("{tags: {all: [a, b]}}")).unwrap();
        assert_eq!(
            (c.direction, c.why),
            (Narrowed, vec!["tags.all now also requires b".to_owned()])
        );
        // none: a tag no longer excluded widens, a new exclusion narrows.
        let c = compare(
            &a("{tags: {any: [a], none: [x, y]}}"),
            &a("{tags: {any: [a], none: [x]}}"),
        )
        .unwrap();
        assert_eq!(
            (c.direction, c.why),
            (Widened, vec!["tags.none no longer excludes y".to_owned()])
        );
        assert_eq!(
            direction("{tags: {any: [a]}}", "{tags: {any: [a], none: [x]}}"),
            Some(Narrowed)
        );
        // Adding an `any` list to a condition without one narrows it.
        assert_eq!(
            direction("{tags: {none: [x]}}", "{tags: {any: [a], none: [x]}}"),
            Some(Narrowed)
        );
        // `none` alone after a positive condition: every user without those tags.
        let c = compare(&a("{tags: {any: [a]}}"), &a("{tags: {none: [x]}}")).unwrap();
        assert_eq!(c.direction, Replaced);
        assert_eq!(
            c.why[0],
            "the audience is now `tags.none` alone: every user without those tags"
        );
        // A different tag set is neither.
        let c = compare(&a("{tags: {any: [a]}}"), &a("{tags: {any: [b]}}")).unwrap();
        assert_eq!(c.direction, Replaced);
        assert_eq!(
            c.why,
            [
                "tags.any now also reaches b",
                "tags.any no longer reaches a"
            ]
        );
        // The same users, however written: no change.
        assert_eq!(
            direction("{tags: {any: [a, b]}}", "{tags: {any: [b, a]}}"),
            None
        );
        // A required tag that is one of the old `any` keeps it within.
        assert_eq!(
            direction("{tags: {any: [a, b]}}", "{tags: {all: [a]}}"),
            Some(Narrowed)
        );
    }

    #[test]
    fn attributes_loosened_tightened_or_replaced() {
        let c = compare(
            &a("{attrs: {all: {city: SZ, level: gold}}}"),
            &a("{attrs: {all: {city: SZ}}}"),
        )
        .unwrap();
        assert_eq!(
            (c.direction, c.why),
            (
                Widened,
                vec!["attrs.all no longer requires level = gold".to_owned()]
            )
        );
        assert_eq!(
            direction(
                "{attrs: {any: {city: SZ}}}",
                "{attrs: {any: {city: SZ, level: gold}}}"
            ),
            Some(Widened)
        );
        assert_eq!(
            direction(
                "{attrs: {any: {city: SZ, level: gold}}}",
                "{attrs: {any: {city: SZ}}}"
            ),
            Some(Narrowed)
        );
        assert_eq!(
            direction("{attrs: {all: {city: SZ}}}", "{attrs: {all: {city: BJ}}}"),
            Some(Replaced)
        );
        // Tags and attributes are not comparable.
        let c = compare(&a("{tags: {any: [a]}}"), &a("{attrs: {any: {city: SZ}}}")).unwrap();
        assert_eq!(c.direction, Replaced);
        assert_eq!(c.why, ["the audience is now by attributes instead of tags"]);
    }

    #[test]
    fn audiences_read_as_words() {
        assert_eq!(words(&a("{all: true}")), "ALL USERS");
        assert_eq!(
            words(&a(
                "{tags: {all: [VIP], any: [Stock A, Stock B], none: [churned]}}"
            )),
            "users tagged VIP and with any of Stock A, Stock B and with none of churned"
        );
        assert_eq!(
            words(&a(
                "{attrs: {all: {city: Shenzhen, level: Platinum}, any: {x: y}}}"
            )),
            "users whose city = Shenzhen, level = Platinum (all of these) and with any of x = y"
        );
    }
}
