//! The typed campaign file (spec §1), deserialised from the YAML's JSON value after the schema
//! check. Structural rules the schema states (exactly one of, required keys, unknown keys) are
//! enforced here too, so the schema and the types agree on every fixture (tests/schema_parity.rs).

use crate::duration;
use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// A duration written in the spec's grammar, keeping its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DurationText {
    pub text: String,
    pub value: Duration,
}

impl TryFrom<String> for DurationText {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let value =
            duration::parse(&text).map_err(|e| format!("invalid duration `{text}`: {e}"))?;
        Ok(Self { text, value })
    }
}

impl From<DurationText> for String {
    fn from(d: DurationText) -> Self {
        d.text
    }
}

/// An integer within `MIN..=MAX` (the schema's `minimum`/`maximum`/0-1 flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bounded<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> TryFrom<i64> for Bounded<MIN, MAX> {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!("{v} is outside {MIN}..={MAX}"))
        }
    }
}

impl<const MIN: i64, const MAX: i64> From<Bounded<MIN, MAX>> for i64 {
    fn from(b: Bounded<MIN, MAX>) -> Self {
        b.0
    }
}

/// A 0/1 flag of the API.
pub type Flag = Bounded<0, 1>;

/// A string that must be one of the listed values (the schema's `enum`).
macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)*
        }
    };
}

str_enum!(
    /// HuaWeiImportance / HonorImportance.
    Importance { Low => "LOW", Normal => "NORMAL" }
);
str_enum!(
    /// GooglePriority.
    GooglePriority { Normal => "normal", High => "high" }
);
str_enum!(
    /// VIVONotifyType.
    VivoNotifyType { One => "1", Two => "2", Three => "3", Four => "4" }
);
str_enum!(
    /// ApnsInfo.InterruptionLevel.
    InterruptionLevel { Active => "active", Critical => "critical", Passive => "passive", TimeSensitive => "time-sensitive" }
);
str_enum!(
    /// LiveActivity.Event.
    LiveActivityEvent { Update => "update", End => "end" }
);

/// OPPONotifyLevel: 1, 2 or 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct OppoNotifyLevel(pub u8);

impl TryFrom<u8> for OppoNotifyLevel {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        if matches!(v, 1 | 2 | 16) {
            Ok(Self(v))
        } else {
            Err(format!("{v} is not 1, 2 or 16"))
        }
    }
}

impl From<OppoNotifyLevel> for u8 {
    fn from(v: OppoNotifyLevel) -> Self {
        v.0
    }
}

/// `version: 1`: the only format version.
pub type Version = Bounded<1, 1>;

/// A name: `^[a-z0-9][a-z0-9-]{0,62}$` (campaigns and projects).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(pub String);

impl Name {
    #[must_use]
    pub fn is_valid(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    }
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if Self::is_valid(&s) {
            Ok(Self(s))
        } else {
            Err(format!("invalid name `{s}`"))
        }
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One campaign file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub version: Version,
    pub name: Name,
    /// Names this campaign had before: it owns their occurrences (and so their ledger
    /// history), like Terraform's `moved`, so a rename never sends an occurrence again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default)]
    pub paused: bool,
    pub audience: Audience,
    pub schedule: ScheduleSpec,
    #[serde(default)]
    pub vars: IndexMap<String, Value>,
    pub message: MessageSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<Box<RecallSpec>>,
    /// Policy rules this campaign may break, each with the reason reviewers see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_exceptions: Option<indexmap::IndexMap<String, String>>,
}

/// Exactly one of `all`, `tags`, `attrs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Audience {
    All(AllTrue),
    Tags(TagCondition),
    Attrs(AttrCondition),
}

/// `all: true` (false is not a value: remove the audience instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct AllTrue;

impl TryFrom<bool> for AllTrue {
    type Error = &'static str;
    fn try_from(b: bool) -> Result<Self, Self::Error> {
        if b {
            Ok(Self)
        } else {
            Err("`all` must be true")
        }
    }
}

impl From<AllTrue> for bool {
    fn from(_: AllTrue) -> Self {
        true
    }
}

/// A tag condition: at least one of the lists, and no list empty (an empty `Condition` list
/// reaches every user). Only deserialisation builds one (the private field), so every value
/// holds those rules and the request builder can never produce an empty condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTags")]
pub struct TagCondition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub none: Option<Vec<String>>,
    #[serde(skip)]
    sealed: Sealed,
}

/// Keeps conditions from being built anywhere but their `TryFrom`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sealed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTags {
    any: Option<Vec<String>>,
    all: Option<Vec<String>>,
    none: Option<Vec<String>>,
}

impl TryFrom<RawTags> for TagCondition {
    type Error = &'static str;
    fn try_from(r: RawTags) -> Result<Self, Self::Error> {
        if r.any.is_none() && r.all.is_none() && r.none.is_none() {
            return Err("audience.tags needs at least one of `any`, `all`, `none`");
        }
        if [&r.any, &r.all, &r.none]
            .into_iter()
            .any(|l| l.as_ref().is_some_and(Vec::is_empty))
        {
            return Err(EMPTY_TAG_LIST);
        }
        Ok(Self {
            any: r.any,
            all: r.all,
            none: r.none,
            sealed: Sealed,
        })
    }
}

impl TagCondition {
    /// The lists with their key, in the order any, all, none.
    pub fn lists(&self) -> impl Iterator<Item = (&'static str, &Vec<String>)> {
        [("any", &self.any), ("all", &self.all), ("none", &self.none)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
}

/// An attribute condition: at least one of the maps, and no map empty; built only by
/// deserialisation, like [`TagCondition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAttrs")]
pub struct AttrCondition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<IndexMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<IndexMap<String, String>>,
    #[serde(skip)]
    sealed: Sealed,
}

/// An empty tag list in an audience.
pub const EMPTY_TAG_LIST: &str = "an empty tag list would become an empty Condition list, which reaches every user; list at least one tag or remove the key (for everyone, write `audience: {all: true}`)";
/// An empty attribute map in an audience.
pub const EMPTY_ATTR_MAP: &str = "an empty attribute map would become an empty Condition, which reaches every user; give at least one attribute or remove the key (for everyone, write `audience: {all: true}`)";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttrs {
    any: Option<IndexMap<String, String>>,
    all: Option<IndexMap<String, String>>,
}

impl TryFrom<RawAttrs> for AttrCondition {
    type Error = &'static str;
    fn try_from(r: RawAttrs) -> Result<Self, Self::Error> {
        if r.any.is_none() && r.all.is_none() {
            return Err("audience.attrs needs at least one of `any`, `all`");
        }
        if [&r.any, &r.all]
            .into_iter()
            .any(|m| m.as_ref().is_some_and(IndexMap::is_empty))
        {
            return Err(EMPTY_ATTR_MAP);
        }
        Ok(Self {
            any: r.any,
            all: r.all,
            sealed: Sealed,
        })
    }
}

impl AttrCondition {
    /// The maps with their key, in the order any, all.
    pub fn maps(&self) -> impl Iterator<Item = (&'static str, &IndexMap<String, String>)> {
        [("any", &self.any), ("all", &self.all)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
}

/// Exactly one of `at` and `cron`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSchedule")]
pub struct ScheduleSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace: Option<DurationText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    at: Option<String>,
    cron: Option<String>,
    timezone: Option<String>,
    start: Option<String>,
    end: Option<String>,
    grace: Option<DurationText>,
}

fn parse_day(s: Option<String>) -> Result<Option<NaiveDate>, String> {
    s.map(|d| {
        if d.len() == 10 {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|e| format!("`{d}` is not a date: {e}"))
        } else {
            Err(format!("`{d}` is not a date (YYYY-MM-DD)"))
        }
    })
    .transpose()
}

impl TryFrom<RawSchedule> for ScheduleSpec {
    type Error = String;
    fn try_from(r: RawSchedule) -> Result<Self, String> {
        if r.at.is_some() == r.cron.is_some() {
            return Err("schedule needs exactly one of `at` and `cron`".into());
        }
        Ok(Self {
            at: r.at,
            cron: r.cron,
            timezone: r.timezone,
            start: parse_day(r.start)?,
            end: parse_day(r.end)?,
            grace: r.grace,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default)]
    pub online_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<DurationText>,
    pub body: NonEmpty<Element>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: most of a message's size, and a plan holds every campaign's typed message.
    pub offline_push: Option<Box<OfflinePush>>,
}

/// A list with at least one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<T>", into = "Vec<T>")]
pub struct NonEmpty<T: Clone>(pub Vec<T>);

impl<T: Clone> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = &'static str;
    fn try_from(v: Vec<T>) -> Result<Self, Self::Error> {
        if v.is_empty() {
            Err("needs at least one item")
        } else {
            Ok(Self(v))
        }
    }
}

impl<T: Clone> From<NonEmpty<T>> for Vec<T> {
    fn from(n: NonEmpty<T>) -> Self {
        n.0
    }
}

/// One message element: exactly one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Element {
    Text(String),
    Custom(CustomElem),
    Location(LocationElem),
    Face(FaceElem),
    Sound(SoundElem),
    Image(ImageElem),
    File(FileElem),
    Video(VideoElem),
}

impl Element {
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Custom(_) => "custom",
            Self::Location(_) => "location",
            Self::Face(_) => "face",
            Self::Sound(_) => "sound",
            Self::Image(_) => "image",
            Self::File(_) => "file",
            Self::Video(_) => "video",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomElem {
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLocation")]
pub struct LocationElem {
    pub desc: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocation {
    desc: String,
    latitude: f64,
    longitude: f64,
}

impl TryFrom<RawLocation> for LocationElem {
    type Error = &'static str;
    fn try_from(r: RawLocation) -> Result<Self, Self::Error> {
        if !(-90.0..=90.0).contains(&r.latitude) {
            return Err("latitude must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&r.longitude) {
            return Err("longitude must be between -180 and 180");
        }
        Ok(Self {
            desc: r.desc,
            latitude: r.latitude,
            longitude: r.longitude,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceElem {
    pub index: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoundElem {
    pub url: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpg,
    Gif,
    Png,
    Bmp,
    Other,
}

impl ImageFormat {
    /// TIMImageElem.ImageFormat.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::Jpg => 1,
            Self::Gif => 2,
            Self::Png => 3,
            Self::Bmp => 4,
            Self::Other => 255,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageType {
    Original,
    Large,
    Thumbnail,
}

impl ImageType {
    /// ImageInfoArray[].Type.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::Original => 1,
            Self::Large => 2,
            Self::Thumbnail => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageElem {
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImageFormat>,
    pub images: NonEmpty<ImageInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageInfo {
    #[serde(rename = "type")]
    pub kind: ImageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub width: u64,
    pub height: u64,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileElem {
    pub url: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoElem {
    pub url: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub thumb: VideoThumb,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoThumb {
    pub url: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub width: u64,
    pub height: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// `ext`: a string, or a mapping serialised to a JSON string in source key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ext {
    Text(String),
    Map(serde_json::Map<String, Value>),
}

/// OfflinePushInfo (the vendor parts boxed: a campaign keeps its typed form for the whole
/// command, and most have none). Deserialised from snake_case keys; serialised with the API's names, in the
/// reference's order (spec §1: `huawei_importance` → `HuaWeiImportance`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflinePush {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// `MultiLanguageContent`: per BCP 47 language tag, in source order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translations: Option<indexmap::IndexMap<String, Translation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Ext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge_add_num: Option<Bounded<1, 99>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge_set_num: Option<Bounded<0, 999>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<Box<AndroidInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns: Option<Box<ApnsInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmony: Option<Box<HarmonyInfo>>,
}

const fn yes() -> bool {
    true
}

/// One language of `offline_push.translations` (`MultiLanguageContent`: Language, Title, Desc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

macro_rules! api_struct {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty => $api:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                #[serde(default, rename(serialize = $api), skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

api_struct!(
    /// OfflinePushInfo.AndroidInfo.
    AndroidInfo {
        sound: String => "Sound",
        push_style: Flag => "PushStyle",
        xiaomi_channel_id: String => "XiaoMiChannelID",
        oppo_channel_id: String => "OPPOChannelID",
        oppo_category: String => "OPPOCategory",
        oppo_private_msg_template_id: String => "OPPOPrivateMsgTemplateId",
        oppo_private_title_parameters: IndexMap<String, String> => "OPPOPrivateTitleParameters",
        oppo_private_content_parameters: IndexMap<String, String> => "OPPOPrivateContentParameters",
        oppo_notify_level: OppoNotifyLevel => "OPPONotifyLevel",
        vivo_classification: Flag => "VIVOClassification",
        vivo_category: String => "VIVOCategory",
        vivo_notify_type: VivoNotifyType => "VIVONotifyType",
        huawei_importance: Importance => "HuaWeiImportance",
        huawei_category: String => "HuaWeiCategory",
        huawei_image: String => "HuaWeiImage",
        huawei_channel_id: String => "HuaWeiChannelID",
        honor_image: String => "HonorImage",
        honor_importance: Importance => "HonorImportance",
        google_image: String => "GoogleImage",
        google_priority: GooglePriority => "GooglePriority",
        google_channel_id: String => "GoogleChannelID",
        meizu_notice_msg_type: Flag => "MeiZuNoticeMsgType",
        ext_as_huawei_intent_param: Flag => "ExtAsHuaweiIntentParam",
    }
);

api_struct!(
    /// OfflinePushInfo.ApnsInfo.
    ApnsInfo {
        badge_mode: Flag => "BadgeMode",
        title: String => "Title",
        sub_title: String => "SubTitle",
        image: String => "Image",
        mutable_content: Flag => "MutableContent",
        sound: String => "Sound",
        interruption_level: InterruptionLevel => "InterruptionLevel",
        content_available: Flag => "ContentAvailable",
        is_voip_push: Flag => "IsVoipPush",
        live_activity: LiveActivity => "LiveActivity",
    }
);

/// ApnsInfo.LiveActivity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveActivity {
    #[serde(rename(serialize = "LaId"))]
    pub la_id: String,
    #[serde(rename(serialize = "Event"))]
    pub event: LiveActivityEvent,
    #[serde(rename(serialize = "ContentState"))]
    pub content_state: serde_json::Map<String, Value>,
    #[serde(
        default,
        rename(serialize = "DismissalDate"),
        skip_serializing_if = "Option::is_none"
    )]
    pub dismissal_date: Option<Bounded<0, { i64::MAX }>>,
}

api_struct!(
    /// OfflinePushInfo.HarmonyInfo.
    HarmonyInfo {
        title: String => "Title",
        category: String => "Category",
        image: String => "Image",
        sound: String => "Sound",
        sound_duration: Bounded<1, 60> => "SoundDuration",
    }
);

/// `recall`: the OfflinePushInfo sent with a recall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
}

/// The typed-loading error: where in the value, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub pointer: String,
    pub message: String,
}

/// Deserialises a value into `T`, locating the first error by JSON pointer.
///
/// # Errors
/// The first mismatch.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, TypeError> {
    // Almost every value fits: the path is tracked only to locate an error, on a second pass.
    if let Ok(typed) = T::deserialize(value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut pointer = String::new();
        for seg in e.path().iter() {
            use serde_path_to_error::Segment;
            match seg {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    pointer.push('/');
                    pointer.push_str(&crate::spec::yaml::escape_pointer_segment(key));
                }
                Segment::Unknown => {}
            }
        }
        TypeError {
            pointer,
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loads_a_full_campaign() {
        let v = json!({
            "version": 1, "name": "sale", "audience": {"tags": {"any": ["a"], "none": ["b"]}},
            "schedule": {"cron": "0 10 * * MON", "start": "2026-12-01", "grace": "30m"},
            "vars": {"d": 30},
            "message": {"lifetime": "3d", "body": [{"text": "hi"}, {"image": {"uuid": "u", "images": [{"type": "original", "width": 1, "height": 2, "url": "x"}]}}],
                        "offline_push": {"title": "t", "ext": {"k": "v"}, "android": {"huawei_importance": "LOW"}}}
        });
        let c: CampaignSpec = from_value(&v).unwrap();
        assert_eq!(c.name.0, "sale");
        assert_eq!(c.schedule.grace.unwrap().value, Duration::from_secs(1800));
        assert_eq!(c.message.body.0.len(), 2);
        let op = c.message.offline_push.unwrap();
        assert!(op.enabled);
        assert_eq!(
            serde_json::to_value(op.android.unwrap()).unwrap(),
            json!({"HuaWeiImportance": "LOW"})
        );
    }

    #[test]
    fn structural_errors_are_located() {
        let v = json!({"version": 1, "name": "a", "audience": {"all": true}, "schedule": {"at": "x", "cron": "y"},
                       "message": {"body": [{"text": "a"}]}});
        let e = from_value::<CampaignSpec>(&v).unwrap_err();
        assert_eq!(e.pointer, "/schedule");
        assert!(
            e.message.contains("exactly one of `at` and `cron`"),
            "{}",
            e.message
        );
        let v = json!({"version": 1, "name": "a", "audience": {"all": true}, "schedule": {"at": "x"},
                       "message": {"body": [{"location": {"desc": "d", "latitude": 1}}]}});
        let e = from_value::<CampaignSpec>(&v).unwrap_err();
        assert_eq!(e.pointer, "/message/body/0/location");
        assert!(e.message.contains("longitude"), "{}", e.message);
    }
}
