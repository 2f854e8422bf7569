//! Wire types shared by the client and the emulator: API paths (current and legacy), query
//! parameter names, the response envelope and the provider's error codes with names.
//!
//! See `../shared/reference/tencent-push-api.md` §1, §2, §3.6 and §6.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// API paths, relative to the base URL (`{base}/{path}?{query}`), without a leading slash.
pub mod paths {
    pub const PUSH: &str = "v4/timpush/push";
    pub const SET_ATTR_NAME: &str = "v4/timpush/set_attr_name";
    pub const GET_ATTR_NAME: &str = "v4/timpush/get_attr_name";
    pub const SET_ATTR: &str = "v4/timpush/set_attr";
    pub const GET_ATTR: &str = "v4/timpush/get_attr";
    pub const REMOVE_ATTR: &str = "v4/timpush/remove_attr";
    pub const ADD_TAG: &str = "v4/timpush/add_tag";
    pub const GET_TAG: &str = "v4/timpush/get_tag";
    pub const REMOVE_TAG: &str = "v4/timpush/remove_tag";
    pub const CLEAR_ALL_TAGS: &str = "v4/timpush/clear_all_tags";
    pub const BATCH: &str = "v4/timpush/batch";
    pub const REVOKE: &str = "v4/timpush/revoke";
    pub const STATISTICS: &str = "v4/timpush/all_member_push_statistics";

    pub const LEGACY_PUSH: &str = "v4/all_member_push/im_push";
    pub const LEGACY_SET_ATTR_NAME: &str = "v4/all_member_push/im_set_attr_name";
    pub const LEGACY_GET_ATTR_NAME: &str = "v4/all_member_push/im_get_attr_name";
    pub const LEGACY_SET_ATTR: &str = "v4/all_member_push/im_set_attr";
    pub const LEGACY_GET_ATTR: &str = "v4/all_member_push/im_get_attr";
    pub const LEGACY_REMOVE_ATTR: &str = "v4/all_member_push/im_remove_attr";
    pub const LEGACY_ADD_TAG: &str = "v4/all_member_push/im_add_tag";
    pub const LEGACY_GET_TAG: &str = "v4/all_member_push/im_get_tag";
    pub const LEGACY_REMOVE_TAG: &str = "v4/all_member_push/im_remove_tag";
    pub const LEGACY_REMOVE_ALL_TAGS: &str = "v4/all_member_push/im_remove_all_tags";
}

/// Query parameter names (case-sensitive, any order).
pub mod query {
    pub const SDKAPPID: &str = "sdkappid";
    pub const IDENTIFIER: &str = "identifier";
    pub const USERSIG: &str = "usersig";
    pub const RANDOM: &str = "random";
    pub const CONTENTTYPE: &str = "contenttype";
}

/// The documented limits of the calls, shared by crier's commands and the emulator.
pub mod limits {
    /// Most accounts in one `timpush/batch` call.
    pub const BATCH_MAX_ACCOUNTS: usize = 500;
    /// `timpush/batch` calls per second (standard edition).
    pub const BATCH_PER_SECOND: u32 = 30;
    /// `timpush/revoke` calls per second (more: 90051).
    pub const REVOKE_PER_SECOND: u32 = 1;
    /// `all_member_push_statistics` calls per second.
    pub const STATISTICS_PER_SECOND: u32 = 1;
    /// Most TaskIDs in one statistics call.
    pub const STATISTICS_MAX_TASKS: usize = 5;
    /// How far back statistics reach.
    pub const STATISTICS_MAX_DAYS: i64 = 30;
    /// A push can be recalled for this long after it started (more: 90052).
    pub const RECALL_WINDOW_HOURS: i64 = 24;
}

/// One API of the push family, whichever of its paths (current or legacy) was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Push,
    SetAttrName,
    GetAttrName,
    SetAttr,
    GetAttr,
    RemoveAttr,
    AddTag,
    GetTag,
    RemoveTag,
    ClearAllTags,
    Batch,
    Revoke,
    Statistics,
}

impl Api {
    pub const ALL: [Self; 13] = [
        Self::Push,
        Self::SetAttrName,
        Self::GetAttrName,
        Self::SetAttr,
        Self::GetAttr,
        Self::RemoveAttr,
        Self::AddTag,
        Self::GetTag,
        Self::RemoveTag,
        Self::ClearAllTags,
        Self::Batch,
        Self::Revoke,
        Self::Statistics,
    ];

    /// The documented calls per second of an API with its own rate limit (the push's limit is
    /// the app's `min_interval`; the attribute and tag APIs allow 100/s).
    #[must_use]
    pub const fn per_second(self) -> u32 {
        match self {
            Self::Batch => limits::BATCH_PER_SECOND,
            Self::Revoke => limits::REVOKE_PER_SECOND,
            Self::Statistics => limits::STATISTICS_PER_SECOND,
            Self::Push => 1,
            _ => 100,
        }
    }

    /// The code the provider answers when this API's calls per second are exceeded.
    #[must_use]
    pub const fn rate_limit_code(self) -> u32 {
        match self {
            Self::Revoke => codes::RECALL_TOO_FREQUENT,
            _ => codes::REST_FREQUENCY_LIMIT,
        }
    }

    /// The current (`v4/timpush/...`) path.
    #[must_use]
    pub fn path(self) -> &'static str {
        match self {
            Self::Push => paths::PUSH,
            Self::SetAttrName => paths::SET_ATTR_NAME,
            Self::GetAttrName => paths::GET_ATTR_NAME,
            Self::SetAttr => paths::SET_ATTR,
            Self::GetAttr => paths::GET_ATTR,
            Self::RemoveAttr => paths::REMOVE_ATTR,
            Self::AddTag => paths::ADD_TAG,
            Self::GetTag => paths::GET_TAG,
            Self::RemoveTag => paths::REMOVE_TAG,
            Self::ClearAllTags => paths::CLEAR_ALL_TAGS,
            Self::Batch => paths::BATCH,
            Self::Revoke => paths::REVOKE,
            Self::Statistics => paths::STATISTICS,
        }
    }

    /// The legacy (`v4/all_member_push/im_...`) path, when the API has one.
    #[must_use]
    pub fn legacy_path(self) -> Option<&'static str> {
        Some(match self {
            Self::Push => paths::LEGACY_PUSH,
            Self::SetAttrName => paths::LEGACY_SET_ATTR_NAME,
            Self::GetAttrName => paths::LEGACY_GET_ATTR_NAME,
            Self::SetAttr => paths::LEGACY_SET_ATTR,
            Self::GetAttr => paths::LEGACY_GET_ATTR,
            Self::RemoveAttr => paths::LEGACY_REMOVE_ATTR,
            Self::AddTag => paths::LEGACY_ADD_TAG,
            Self::GetTag => paths::LEGACY_GET_TAG,
            Self::RemoveTag => paths::LEGACY_REMOVE_TAG,
            Self::ClearAllTags => paths::LEGACY_REMOVE_ALL_TAGS,
            Self::Batch | Self::Revoke | Self::Statistics => return None,
        })
    }

    /// Finds the API for a path (with or without a leading `/`); `true` when it is the legacy path.
    #[must_use]
    pub fn from_path(path: &str) -> Option<(Self, bool)> {
        let path = path.strip_prefix('/').unwrap_or(path);
        Self::ALL.into_iter().find_map(|api| {
            if api.path() == path {
                Some((api, false))
            } else if api.legacy_path() == Some(path) {
                Some((api, true))
            } else {
                None
            }
        })
    }
}

/// `ActionStatus` of every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionStatus {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "FAIL")]
    Fail,
}

/// The response envelope: `{"ActionStatus","ErrorInfo","ErrorCode", ...api fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "ActionStatus")]
    pub action_status: ActionStatus,
    #[serde(rename = "ErrorInfo", default)]
    pub error_info: String,
    #[serde(rename = "ErrorCode", default)]
    pub error_code: u32,
    /// Every other field of the response (`TaskId`, `AttrNames`, `ErrorList`, ...), in order.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Envelope {
    #[must_use]
    pub fn ok() -> Self {
        Self {
            action_status: ActionStatus::Ok,
            error_info: String::new(),
            error_code: 0,
            fields: Map::new(),
        }
    }

    #[must_use]
    pub fn fail(code: u32, info: impl Into<String>) -> Self {
        Self {
            action_status: ActionStatus::Fail,
            error_info: info.into(),
            error_code: code,
            fields: Map::new(),
        }
    }

    /// Adds an API field.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// `ActionStatus` is OK and `ErrorCode` is 0.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.action_status == ActionStatus::Ok && self.error_code == codes::OK
    }

    /// The `TaskId` field, when present and non-empty.
    #[must_use]
    pub fn task_id(&self) -> Option<&str> {
        self.fields
            .get("TaskId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// One entry of an `ErrorList` (partial failures of the `timpush/*` APIs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorListItem {
    #[serde(rename = "To_Account")]
    pub to_account: String,
    #[serde(rename = "ErrorCode")]
    pub error_code: u32,
    #[serde(rename = "ErrorInfo", default)]
    pub error_info: String,
}

/// The provider's error codes (reference §3.6 and §6).
pub mod codes {
    pub const OK: u32 = 0;

    pub const HTTP_PARSE_ERROR: u32 = 60002;
    pub const JSON_PARSE_ERROR: u32 = 60003;
    pub const ACCOUNT_OR_SIG_ERROR: u32 = 60004;
    pub const ACCOUNT_OR_SIG_ERROR_2: u32 = 60005;
    pub const INVALID_SDKAPPID: u32 = 60006;
    pub const REST_FREQUENCY_LIMIT: u32 = 60007;
    pub const SERVICE_TIMEOUT: u32 = 60008;
    pub const RESOURCE_ERROR: u32 = 60009;
    pub const ADMIN_REQUIRED_COMMON: u32 = 60010;
    pub const SDKAPPID_FREQUENCY_LIMIT: u32 = 60011;
    pub const SDKAPPID_MISSING: u32 = 60012;
    pub const RESPONSE_JSON_ERROR: u32 = 60013;
    pub const ACCOUNT_SWITCH_TIMEOUT: u32 = 60014;
    pub const USERID_NOT_STRING: u32 = 60015;
    pub const SDKAPPID_DISABLED: u32 = 60016;
    pub const REQUEST_DISABLED: u32 = 60017;
    pub const TOO_MANY_REQUESTS: u32 = 60018;
    pub const TOO_MANY_REQUESTS_2: u32 = 60019;
    pub const PRO_EDITION_EXPIRED: u32 = 60020;
    pub const SOURCE_IP_NOT_ALLOWED: u32 = 60021;

    pub const USERSIG_EXPIRED: u32 = 70001;
    pub const USERSIG_EMPTY: u32 = 70002;
    pub const USERSIG_INVALID: u32 = 70003;
    pub const USERSIG_INVALID_2: u32 = 70005;
    pub const USERSIG_AUTH_FAILED: u32 = 70009;
    pub const USERSIG_IDENTIFIER_MISMATCH: u32 = 70013;
    pub const USERSIG_SDKAPPID_MISMATCH: u32 = 70014;
    pub const PUBLIC_KEY_MISSING: u32 = 70016;
    pub const SDKAPPID_NOT_FOUND: u32 = 70020;
    pub const USERSIG_TOO_MANY_FAILURES: u32 = 70050;
    pub const ACCOUNT_BLOCKLISTED: u32 = 70051;
    pub const USERSIG_INVALIDATED: u32 = 70052;
    pub const ACCOUNT_NOT_FOUND: u32 = 70107;
    pub const SERVER_TIMEOUT: u32 = 70169;
    pub const SERVER_TIMEOUT_2: u32 = 70202;
    pub const INVALID_BATCH_QUANTITY: u32 = 70206;
    pub const ACCOUNT_COUNT_LIMIT: u32 = 70398;
    pub const INVALID_PARAMETER: u32 = 70402;
    pub const ADMIN_REQUIRED_70403: u32 = 70403;
    pub const INTERNAL_ERROR_70500: u32 = 70500;

    pub const JSON_PARSE_FAILED: u32 = 90001;
    pub const MSG_BODY_FORMAT: u32 = 90002;
    pub const MSG_RANDOM_INVALID: u32 = 90005;
    pub const MSG_BODY_NOT_ARRAY: u32 = 90007;
    pub const ADMIN_REQUIRED: u32 = 90009;
    pub const JSON_FORMAT: u32 = 90010;
    pub const TOO_MANY_ACCOUNTS: u32 = 90018;
    pub const TAG_TOO_LONG: u32 = 90020;
    pub const TAG_DUPLICATED: u32 = 90022;
    pub const PUSH_TOO_FREQUENT: u32 = 90024;
    pub const LIFETIME_INVALID: u32 = 90026;
    pub const TOO_MANY_TAGS: u32 = 90032;
    pub const INVALID_ATTRIBUTE: u32 = 90033;
    pub const ACCOUNT_TYPE_CONFLICT: u32 = 90035;
    pub const TAGS_AND_ATTRS_EXCLUSIVE: u32 = 90039;
    pub const TAG_EMPTY: u32 = 90040;
    pub const PUSH_NOT_ENABLED: u32 = 90045;
    pub const DAILY_QUOTA_EXCEEDED: u32 = 90047;
    pub const RECALL_TASK_NOT_FOUND: u32 = 90049;
    pub const RECALL_ALREADY_DONE: u32 = 90050;
    pub const RECALL_TOO_FREQUENT: u32 = 90051;
    pub const RECALL_WINDOW_EXCEEDED: u32 = 90052;
    pub const RECALL_INVALID: u32 = 90053;
    pub const BODY_TOO_LARGE: u32 = 90056;
    pub const DATA_ID_TOO_LONG: u32 = 90057;
    pub const INTERNAL_ERROR: u32 = 91000;

    /// A short English description of a known code.
    #[must_use]
    pub fn describe(code: u32) -> Option<&'static str> {
        Some(match code {
            OK => "success",
            HTTP_PARSE_ERROR => "HTTP parse error: check the URL",
            JSON_PARSE_ERROR => "JSON parse error",
            ACCOUNT_OR_SIG_ERROR | ACCOUNT_OR_SIG_ERROR_2 => {
                "account or signature error in the URL or body"
            }
            INVALID_SDKAPPID => "invalid SDKAppID",
            REST_FREQUENCY_LIMIT => "REST API call frequency limit exceeded",
            SERVICE_TIMEOUT => "service timeout or bad HTTP format",
            RESOURCE_ERROR => "request resource error: check the URL",
            ADMIN_REQUIRED_COMMON | ADMIN_REQUIRED | ADMIN_REQUIRED_70403 => {
                "requires app admin permissions"
            }
            SDKAPPID_FREQUENCY_LIMIT => "SDKAppID request frequency exceeded",
            SDKAPPID_MISSING => "SDKAppID missing from the URL",
            RESPONSE_JSON_ERROR => "JSON parse error in the response",
            ACCOUNT_SWITCH_TIMEOUT => "account switching timeout",
            USERID_NOT_STRING => "UserID in the body is not a string",
            SDKAPPID_DISABLED => "SDKAppID disabled",
            REQUEST_DISABLED => "request disabled",
            TOO_MANY_REQUESTS | TOO_MANY_REQUESTS_2 => "too many requests, try later",
            PRO_EDITION_EXPIRED => "Pro edition expired",
            SOURCE_IP_NOT_ALLOWED => "source IP not allowed",
            USERSIG_EXPIRED => "UserSig expired",
            USERSIG_EMPTY => "UserSig is empty",
            USERSIG_INVALID | USERSIG_INVALID_2 => "invalid UserSig",
            USERSIG_AUTH_FAILED => "UserSig authentication failed",
            USERSIG_IDENTIFIER_MISMATCH => "identifier does not match the UserSig's",
            USERSIG_SDKAPPID_MISMATCH => "SDKAppID does not match the UserSig's",
            PUBLIC_KEY_MISSING => "public key does not exist",
            SDKAPPID_NOT_FOUND => "SDKAppID not found",
            USERSIG_TOO_MANY_FAILURES => "too many UserSig failures, retry in 1 minute",
            ACCOUNT_BLOCKLISTED => "account blocklisted",
            USERSIG_INVALIDATED => "UserSig invalidated, regenerate it",
            ACCOUNT_NOT_FOUND => "UserID does not exist",
            SERVER_TIMEOUT | SERVER_TIMEOUT_2 => "server timeout",
            INVALID_BATCH_QUANTITY => "invalid batch quantity",
            ACCOUNT_COUNT_LIMIT => "account count limit",
            INVALID_PARAMETER => "invalid parameter",
            INTERNAL_ERROR_70500 | INTERNAL_ERROR => "internal error, retry",
            JSON_PARSE_FAILED => "JSON parse failed",
            MSG_BODY_FORMAT => "MsgBody does not meet the message format",
            MSG_RANDOM_INVALID => "MsgRandom missing or not an integer",
            MSG_BODY_NOT_ARRAY => "MsgBody is not an array",
            JSON_FORMAT => "JSON does not meet the message format",
            TOO_MANY_ACCOUNTS => "too many accounts in the request",
            TAG_TOO_LONG => "tag longer than 50 bytes",
            TAG_DUPLICATED => "a tag appears in two of TagsOr, TagsAnd, TagsNot",
            PUSH_TOO_FREQUENT => "pushes too frequent: the interval must exceed 1 second",
            LIFETIME_INVALID => "offline storage time wrong: at most 7 days",
            TOO_MANY_TAGS => "too many tags",
            INVALID_ATTRIBUTE => "invalid attribute",
            ACCOUNT_TYPE_CONFLICT => "a tag or attribute applies to one account type only",
            TAGS_AND_ATTRS_EXCLUSIVE => "attribute push and tag push are mutually exclusive",
            TAG_EMPTY => "a tag in the condition is empty",
            PUSH_NOT_ENABLED => "all-user, tag or single push not enabled",
            DAILY_QUOTA_EXCEEDED => "daily push quota exceeded",
            RECALL_TASK_NOT_FOUND => "invalid TaskId for recall",
            RECALL_ALREADY_DONE => "push already recalled",
            RECALL_TOO_FREQUENT => "recall too frequent: 1 per second",
            RECALL_WINDOW_EXCEEDED => "recall window of 24 hours exceeded",
            RECALL_INVALID => "recall invalid for this task",
            BODY_TOO_LARGE => "push request body too large: at most 10K",
            DATA_ID_TOO_LONG => "DataId over 64 bytes",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_is_found_by_its_current_and_legacy_path() {
        for api in Api::ALL {
            assert_eq!(Api::from_path(api.path()), Some((api, false)));
            assert_eq!(
                Api::from_path(&format!("/{}", api.path())),
                Some((api, false))
            );
            if let Some(legacy) = api.legacy_path() {
                assert_eq!(Api::from_path(legacy), Some((api, true)));
            }
        }
        assert_eq!(
            Api::from_path("v4/all_member_push/im_remove_all_tags"),
            Some((Api::ClearAllTags, true))
        );
        assert_eq!(Api::from_path("v4/timpush/nope"), None);
    }

    #[test]
    fn envelope_serialises_in_the_documented_order() {
        let e = Envelope::ok().with("TaskId", "t1");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"TaskId":"t1"}"#
        );
        let parsed: Envelope = serde_json::from_str(
            r#"{"ActionStatus":"FAIL","ErrorInfo":"x","ErrorCode":90047,"TaskId":""}"#,
        )
        .unwrap();
        assert!(!parsed.is_ok());
        assert_eq!(parsed.error_code, codes::DAILY_QUOTA_EXCEEDED);
        assert_eq!(parsed.task_id(), None);
        assert_eq!(
            codes::describe(90024),
            Some("pushes too frequent: the interval must exceed 1 second")
        );
        assert_eq!(codes::describe(12345), None);
    }
}
