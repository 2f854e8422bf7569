//! An occurrence: one scheduled instant of one campaign, and its identity.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// The key of an occurrence (spec §4): project, sdkappid, campaign name, scheduled UTC instant.
/// The ledger, MsgRandom and snapshots all use it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct OccurrenceKey {
    pub project: String,
    pub sdkappid: u64,
    pub campaign: String,
    pub scheduled: DateTime<Utc>,
}

impl OccurrenceKey {
    /// A stable text form: `project/sdkappid/campaign@2026-12-01T02:00:00Z`.
    #[must_use]
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}@{}",
            self.project,
            self.sdkappid,
            self.campaign,
            self.scheduled.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// The MsgRandom before any collision perturbation: the first 32 bits of SHA-256 of [`Self::id`].
    #[must_use]
    pub fn base_msg_random(&self) -> u32 {
        let digest = Sha256::digest(self.id().as_bytes());
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_msg_random_are_stable() {
        let key = OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: "sale".into(),
            scheduled: "2026-12-01T02:00:00Z".parse().unwrap(),
        };
        assert_eq!(key.id(), "shop/1400000000/sale@2026-12-01T02:00:00Z");
        let again = key.clone();
        assert_eq!(key.base_msg_random(), again.base_msg_random());
        let other = OccurrenceKey {
            campaign: "sale2".into(),
            ..key.clone()
        };
        assert_ne!(key.base_msg_random(), other.base_msg_random());
    }
}
