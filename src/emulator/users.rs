//! The user store of one app: ids, tags and attributes, with a bitmap per tag and per
//! attribute value so that a condition resolves with a few bitmap operations.

use indexmap::IndexMap;
use roaring::RoaringBitmap;
use serde::Deserialize;
use std::collections::HashMap;

/// One line of a users file: `{"id":"u1","tags":["a"],"attrs":{"city":"Shenzhen"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    pub id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attrs: IndexMap<String, String>,
}

/// A users file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct UsersFileError {
    pub line: usize,
    pub message: String,
}

/// Parses JSON lines (blank lines are skipped).
///
/// # Errors
/// The first line that is not a valid user record.
pub fn parse_users_jsonl(text: &str) -> Result<Vec<UserRecord>, UsersFileError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| UsersFileError {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// The tags that `--generate-users` draws from.
pub const GENERATED_TAGS: [&str; 16] = [
    "vip",
    "new",
    "churned",
    "android",
    "ios",
    "web",
    "stock-a",
    "stock-b",
    "stock-c",
    "stock-d",
    "beta",
    "premium",
    "trial",
    "lang-en",
    "lang-zh",
    "newsletter",
];

/// The values that `--generate-users` draws from for an attribute name.
#[must_use]
pub fn generated_values(attr_name: &str) -> &'static [&'static str] {
    match attr_name {
        "city" => &[
            "Shenzhen",
            "Beijing",
            "Shanghai",
            "Singapore",
            "Seoul",
            "Frankfurt",
        ],
        "level" => &["Bronze", "Silver", "Gold", "Platinum"],
        "sex" | "gender" => &["M", "F"],
        "country" => &["CN", "SG", "KR", "DE", "US"],
        _ => &["v1", "v2", "v3", "v4"],
    }
}

/// Which users a push reaches. Empty lists mean "no constraint"; all parts are combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub tags_or: Vec<String>,
    pub tags_and: Vec<String>,
    pub tags_not: Vec<String>,
    pub attrs_or: Vec<(String, String)>,
    pub attrs_and: Vec<(String, String)>,
}

/// Users of one app. Users are never deleted, so user numbers are dense.
#[derive(Debug, Default)]
pub struct UserStore {
    ids: Vec<String>,
    index: HashMap<String, u32>,
    all: RoaringBitmap,
    user_tags: Vec<Vec<u32>>,
    tag_names: Vec<String>,
    tag_index: HashMap<String, u32>,
    tag_bitmaps: Vec<RoaringBitmap>,
    live_tags: usize,
    /// Per user: (attribute name, value id) pairs.
    user_attrs: Vec<Vec<(String, u32)>>,
    /// name → value → value id.
    attr_index: HashMap<String, HashMap<String, u32>>,
    attr_bitmaps: Vec<RoaringBitmap>,
}

impl UserStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store seeded from records (a later record with the same id adds to the earlier one).
    #[must_use]
    pub fn from_records(records: &[UserRecord]) -> Self {
        let mut s = Self::new();
        for r in records {
            let u = s.get_or_create(&r.id);
            s.add_tags(u, &r.tags);
            for (name, value) in &r.attrs {
                s.set_attr(u, name, value);
            }
        }
        s
    }

    /// `count` users `u1..uN`, each with 0 to 5 tags from [`GENERATED_TAGS`] and, for each of
    /// `attr_names`, a value from [`generated_values`] with probability 4/5. Deterministic in `seed`.
    #[must_use]
    pub fn generate(count: u32, seed: u64, attr_names: &[String]) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut s = Self::new();
        let mut tags = Vec::with_capacity(5);
        for i in 1..=count {
            let u = s.get_or_create(&format!("u{i}"));
            tags.clear();
            for _ in 0..rng.usize(0..=5) {
                let t = GENERATED_TAGS[rng.usize(..GENERATED_TAGS.len())];
                if !tags.contains(&t.to_owned()) {
                    tags.push(t.to_owned());
                }
            }
            s.add_tags(u, &tags);
            for name in attr_names {
                if rng.u8(0..5) != 0 {
                    let values = generated_values(name);
                    s.set_attr(u, name, values[rng.usize(..values.len())]);
                }
            }
        }
        s
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    #[must_use]
    pub fn lookup(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    #[must_use]
    pub fn id(&self, user: u32) -> &str {
        &self.ids[user as usize]
    }

    pub fn get_or_create(&mut self, id: &str) -> u32 {
        if let Some(u) = self.lookup(id) {
            return u;
        }
        let u = u32::try_from(self.ids.len()).expect("fewer than 2^32 users");
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), u);
        self.all.insert(u);
        self.user_tags.push(Vec::new());
        self.user_attrs.push(Vec::new());
        u
    }

    /// Distinct tags that at least one user carries.
    #[must_use]
    pub fn live_tag_count(&self) -> usize {
        self.live_tags
    }

    /// Whether some user carries `tag`.
    #[must_use]
    pub fn tag_is_live(&self, tag: &str) -> bool {
        self.tag_index
            .get(tag)
            .is_some_and(|&t| !self.tag_bitmaps[t as usize].is_empty())
    }

    #[must_use]
    pub fn tags_of(&self, user: u32) -> Vec<&str> {
        self.user_tags[user as usize]
            .iter()
            .map(|&t| self.tag_names[t as usize].as_str())
            .collect()
    }

    #[must_use]
    pub fn attrs_of(&self, user: u32) -> Vec<(&str, &str)> {
        self.user_attrs[user as usize]
            .iter()
            .map(|(name, v)| (name.as_str(), self.attr_value_name(name, *v)))
            .collect()
    }

    fn attr_value_name(&self, name: &str, value: u32) -> &str {
        self.attr_index[name]
            .iter()
            .find(|(_, id)| **id == value)
            .map_or("", |(v, _)| v.as_str())
    }

    fn tag_id(&mut self, tag: &str) -> u32 {
        if let Some(&t) = self.tag_index.get(tag) {
            return t;
        }
        let t = u32::try_from(self.tag_names.len()).expect("fewer than 2^32 tags");
        self.tag_names.push(tag.to_owned());
        self.tag_index.insert(tag.to_owned(), t);
        self.tag_bitmaps.push(RoaringBitmap::new());
        t
    }

    pub fn add_tags(&mut self, user: u32, tags: &[String]) {
        for tag in tags {
            let t = self.tag_id(tag);
            let list = &mut self.user_tags[user as usize];
            if !list.contains(&t) {
                list.push(t);
                let bm = &mut self.tag_bitmaps[t as usize];
                if bm.is_empty() {
                    self.live_tags += 1;
                }
                bm.insert(user);
            }
        }
    }

    pub fn remove_tags(&mut self, user: u32, tags: &[String]) {
        for tag in tags {
            let Some(&t) = self.tag_index.get(tag) else {
                continue;
            };
            let list = &mut self.user_tags[user as usize];
            if let Some(pos) = list.iter().position(|x| *x == t) {
                list.remove(pos);
                let bm = &mut self.tag_bitmaps[t as usize];
                bm.remove(user);
                if bm.is_empty() {
                    self.live_tags -= 1;
                }
            }
        }
    }

    pub fn clear_tags(&mut self, user: u32) {
        let tags: Vec<String> = self.tags_of(user).into_iter().map(str::to_owned).collect();
        self.remove_tags(user, &tags);
    }

    pub fn set_attr(&mut self, user: u32, name: &str, value: &str) {
        self.remove_attr(user, name);
        let values = self.attr_index.entry(name.to_owned()).or_default();
        let v = match values.get(value) {
            Some(&v) => v,
            None => {
                let v = u32::try_from(self.attr_bitmaps.len()).expect("fewer than 2^32 values");
                values.insert(value.to_owned(), v);
                self.attr_bitmaps.push(RoaringBitmap::new());
                v
            }
        };
        self.attr_bitmaps[v as usize].insert(user);
        self.user_attrs[user as usize].push((name.to_owned(), v));
    }

    pub fn remove_attr(&mut self, user: u32, name: &str) {
        let list = &mut self.user_attrs[user as usize];
        if let Some(pos) = list.iter().position(|(n, _)| n == name) {
            let (_, v) = list.remove(pos);
            self.attr_bitmaps[v as usize].remove(user);
        }
    }

    fn tag_bitmap(&self, tag: &str) -> Option<&RoaringBitmap> {
        self.tag_index
            .get(tag)
            .map(|&t| &self.tag_bitmaps[t as usize])
    }

    fn attr_bitmap(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        self.attr_index
            .get(name)?
            .get(value)
            .map(|&v| &self.attr_bitmaps[v as usize])
    }

    fn union<'a>(items: impl Iterator<Item = Option<&'a RoaringBitmap>>) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for bm in items.flatten() {
            out |= bm;
        }
        out
    }

    fn intersect<'a>(
        &self,
        items: impl Iterator<Item = Option<&'a RoaringBitmap>>,
    ) -> RoaringBitmap {
        let mut out = self.all.clone();
        for bm in items {
            match bm {
                Some(bm) => out &= bm,
                None => return RoaringBitmap::new(),
            }
        }
        out
    }

    /// The users a selector reaches: TagsOr any-of, TagsAnd all-of, TagsNot none-of,
    /// AttrsOr any-of, AttrsAnd all-of; the non-empty parts combined with AND.
    #[must_use]
    pub fn resolve(&self, sel: &Selector) -> RoaringBitmap {
        let mut out = self.all.clone();
        if !sel.tags_or.is_empty() {
            out &= Self::union(sel.tags_or.iter().map(|t| self.tag_bitmap(t)));
        }
        if !sel.tags_and.is_empty() {
            out &= self.intersect(sel.tags_and.iter().map(|t| self.tag_bitmap(t)));
        }
        if !sel.tags_not.is_empty() {
            out -= Self::union(sel.tags_not.iter().map(|t| self.tag_bitmap(t)));
        }
        if !sel.attrs_or.is_empty() {
            out &= Self::union(sel.attrs_or.iter().map(|(n, v)| self.attr_bitmap(n, v)));
        }
        if !sel.attrs_and.is_empty() {
            out &= self.intersect(sel.attrs_and.iter().map(|(n, v)| self.attr_bitmap(n, v)));
        }
        out
    }

    /// The ids of the first `n` users of a bitmap, in user order.
    #[must_use]
    pub fn sample(&self, users: &RoaringBitmap, n: usize) -> Vec<String> {
        users
            .iter()
            .take(n)
            .map(|u| self.ids[u as usize].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn store() -> UserStore {
        let recs = parse_users_jsonl(
            r#"{"id":"a","tags":["x","y"],"attrs":{"city":"SZ"}}
{"id":"b","tags":["y"],"attrs":{"city":"BJ","level":"Gold"}}

{"id":"c","tags":["z"]}
{"id":"d"}"#,
        )
        .unwrap();
        UserStore::from_records(&recs)
    }

    fn ids(st: &UserStore, sel: &Selector) -> Vec<String> {
        st.sample(&st.resolve(sel), 100)
    }

    #[test]
    fn resolves_each_condition_kind() {
        let st = store();
        assert_eq!(ids(&st, &Selector::default()), s(&["a", "b", "c", "d"]));
        let or = Selector {
            tags_or: s(&["x", "z"]),
            ..Selector::default()
        };
        assert_eq!(ids(&st, &or), s(&["a", "c"]));
        let and = Selector {
            tags_and: s(&["x", "y"]),
            ..Selector::default()
        };
        assert_eq!(ids(&st, &and), s(&["a"]));
        let and_unknown = Selector {
            tags_and: s(&["y", "nope"]),
            ..Selector::default()
        };
        assert!(ids(&st, &and_unknown).is_empty());
        let not = Selector {
            tags_not: s(&["x", "z"]),
            ..Selector::default()
        };
        assert_eq!(ids(&st, &not), s(&["b", "d"]), "TagsNot means none of");
        let combined = Selector {
            tags_or: s(&["y"]),
            tags_not: s(&["x"]),
            ..Selector::default()
        };
        assert_eq!(ids(&st, &combined), s(&["b"]));
        let attrs_or = Selector {
            attrs_or: vec![("city".into(), "SZ".into()), ("city".into(), "BJ".into())],
            ..Selector::default()
        };
        assert_eq!(ids(&st, &attrs_or), s(&["a", "b"]));
        let attrs_and = Selector {
            attrs_and: vec![
                ("city".into(), "BJ".into()),
                ("level".into(), "Gold".into()),
            ],
            ..Selector::default()
        };
        assert_eq!(ids(&st, &attrs_and), s(&["b"]));
    }

    #[test]
    fn tag_and_attr_changes_update_the_bitmaps() {
        let mut st = store();
        assert_eq!(st.live_tag_count(), 3);
        let b = st.lookup("b").unwrap();
        st.remove_tags(b, &s(&["y"]));
        let a = st.lookup("a").unwrap();
        st.clear_tags(a);
        assert!(!st.tag_is_live("y"));
        assert_eq!(st.live_tag_count(), 1);
        st.set_attr(a, "city", "BJ");
        assert_eq!(st.attrs_of(a), vec![("city", "BJ")]);
        let bj = Selector {
            attrs_or: vec![("city".into(), "BJ".into())],
            ..Selector::default()
        };
        assert_eq!(ids(&st, &bj), s(&["a", "b"]));
        st.remove_attr(a, "city");
        assert_eq!(ids(&st, &bj), s(&["b"]));
        let e = st.get_or_create("e");
        st.add_tags(e, &s(&["z", "z"]));
        assert_eq!(st.tags_of(e), vec!["z"]);
        assert_eq!(
            ids(
                &st,
                &Selector {
                    tags_or: s(&["z"]),
                    ..Selector::default()
                }
            ),
            s(&["c", "e"])
        );
    }

    #[test]
    fn generation_is_deterministic_and_bounded() {
        let names = s(&["city"]);
        let a = UserStore::generate(500, 7, &names);
        let b = UserStore::generate(500, 7, &names);
        assert_eq!(a.len(), 500);
        for u in 0..500 {
            assert_eq!(a.tags_of(u), b.tags_of(u));
            assert_eq!(a.attrs_of(u), b.attrs_of(u));
            assert!(a.tags_of(u).len() <= 5);
        }
        let c = UserStore::generate(500, 8, &names);
        assert!((0..500).any(|u| a.tags_of(u) != c.tags_of(u)));
        assert_eq!(a.id(0), "u1");
    }

    #[test]
    fn a_bad_users_line_is_located() {
        let err = parse_users_jsonl("{\"id\":\"a\"}\n{\"tags\":[]}").unwrap_err();
        assert_eq!(err.line, 2);
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    /// The bitmaps agree with a brute-force scan on random selectors.
    #[test]
    fn bitmaps_agree_with_a_scan() {
        let names = vec!["city".to_owned(), "level".to_owned()];
        let st = UserStore::generate(5_000, 11, &names);
        let mut rng = fastrand::Rng::with_seed(3);
        let pick = |rng: &mut fastrand::Rng, max: usize| -> Vec<String> {
            let n = rng.usize(0..max);
            (0..n)
                .map(|_| GENERATED_TAGS[rng.usize(..GENERATED_TAGS.len())].to_owned())
                .collect()
        };
        for _ in 0..200 {
            let sel = Selector {
                tags_or: pick(&mut rng, 3),
                tags_and: pick(&mut rng, 2),
                tags_not: pick(&mut rng, 3),
                attrs_or: if rng.bool() {
                    vec![
                        ("city".into(), "Shenzhen".into()),
                        ("level".into(), "Gold".into()),
                    ]
                } else {
                    vec![]
                },
                attrs_and: if rng.bool() {
                    vec![("level".into(), "Silver".into())]
                } else {
                    vec![]
                },
            };
            let scan: Vec<u32> = (0..5_000)
                .filter(|&u| {
                    let tags = st.tags_of(u);
                    let attrs = st.attrs_of(u);
                    let has = |t: &String| tags.contains(&t.as_str());
                    let attr =
                        |(n, v): &(String, String)| attrs.contains(&(n.as_str(), v.as_str()));
                    (sel.tags_or.is_empty() || sel.tags_or.iter().any(has))
                        && sel.tags_and.iter().all(has)
                        && !sel.tags_not.iter().any(has)
                        && (sel.attrs_or.is_empty() || sel.attrs_or.iter().any(attr))
                        && sel.attrs_and.iter().all(attr)
                })
                .collect();
            assert_eq!(st.resolve(&sel).iter().collect::<Vec<_>>(), scan, "{sel:?}");
        }
    }
}
