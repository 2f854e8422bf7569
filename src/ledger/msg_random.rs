//! Choosing the MsgRandom of an occurrence (§4). Pure: the caller passes `now`.
//!
//! # The rule
//!
//! 1. An occurrence that already has a recorded MsgRandom (a retry, `--retry-in-doubt`) reuses
//!    it, always: the provider deduplicates on it.
//! 2. Otherwise the base value is [`OccurrenceKey::base_msg_random`] (the first 32 bits of
//!    SHA-256 of the occurrence id).
//! 3. If the base equals a MsgRandom that another occurrence of the same app (sdkappid) used in
//!    the 7 days before `now` (`now - 7d <= used_at`), the documented perturbation applies:
//!    try `base + 1`, `base + 2`, … (wrapping from 4294967295 to 0) and take the first value that
//!    no such occurrence used. The choice is recorded in the intent record as a
//!    [`Perturbation`] (base, steps, the occurrences in the way).
//!
//! The same ledger and the same `now` always give the same value.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::fold::MsgRandomUse;
use super::record::Perturbation;
use crate::occurrence::OccurrenceKey;

/// How far back a MsgRandom blocks another occurrence of the same app.
pub const COLLISION_WINDOW: TimeDelta = TimeDelta::days(7);

/// The chosen MsgRandom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgRandomChoice {
    pub value: u32,
    /// True when the occurrence's recorded value was reused.
    pub reused: bool,
    /// Present when the base value was moved (record it in the intent).
    pub perturbation: Option<Perturbation>,
}

/// Picks the MsgRandom for `key` given the MsgRandoms its app used (all of them, in record
/// order; see [`super::LedgerSnapshot::msg_randoms_of`]). See the module documentation.
#[must_use]
pub fn pick_msg_random(
    key: &OccurrenceKey,
    app_uses: &[MsgRandomUse],
    now: DateTime<Utc>,
) -> MsgRandomChoice {
    MsgRandomPool::new(app_uses, now).pick(key)
}

/// The MsgRandoms of one app, indexed once, so that a plan picks many values in constant time
/// each. Every pick is remembered: later picks avoid it (and a second pick of the same
/// occurrence reuses it).
#[derive(Debug, Clone, Default)]
pub struct MsgRandomPool {
    /// Occurrence id → its recorded value (the latest record wins).
    recorded: HashMap<String, u32>,
    /// Values used within the window → the occurrences that used them.
    recent: HashMap<u32, Vec<String>>,
}

impl MsgRandomPool {
    #[must_use]
    pub fn new(app_uses: &[MsgRandomUse], now: DateTime<Utc>) -> Self {
        let since = now - COLLISION_WINDOW;
        let mut pool = Self::default();
        for u in app_uses {
            pool.recorded.insert(u.occurrence.clone(), u.value);
            if u.at >= since {
                pool.recent
                    .entry(u.value)
                    .or_default()
                    .push(u.occurrence.clone());
            }
        }
        pool
    }

    /// The rule of the module documentation, for one occurrence.
    pub fn pick(&mut self, key: &OccurrenceKey) -> MsgRandomChoice {
        self.pick_known(key.id(), key.base_msg_random())
    }

    /// [`Self::pick`] of the occurrence with this id and base value (computed beforehand, in
    /// parallel, by a plan).
    pub fn pick_known(&mut self, id: String, base: u32) -> MsgRandomChoice {
        if let Some(value) = self.recorded.get(&id) {
            return MsgRandomChoice {
                value: *value,
                reused: true,
                perturbation: None,
            };
        }
        let taken = |v: u32| {
            self.recent
                .get(&v)
                .is_some_and(|users| users.iter().any(|o| *o != id))
        };
        let steps = steps_to_free(base, taken);
        let value = base.wrapping_add(steps);
        let perturbation = (steps > 0).then(|| {
            let mut collided_with: Vec<String> = (0..steps)
                .flat_map(|s| self.recent.get(&base.wrapping_add(s)).into_iter().flatten())
                .filter(|o| **o != id)
                .cloned()
                .collect();
            collided_with.sort();
            collided_with.dedup();
            Perturbation {
                base,
                steps,
                collided_with,
            }
        });
        self.recorded.insert(id.clone(), value);
        self.recent.entry(value).or_default().push(id);
        MsgRandomChoice {
            value,
            reused: false,
            perturbation,
        }
    }
}

/// How many wrapping `+1` steps from `base` reach a value that is not `taken`. Terminates after
/// at most as many steps as there are taken values (far fewer than 2^32 in 7 days).
fn steps_to_free(base: u32, taken: impl Fn(u32) -> bool) -> u32 {
    let mut steps: u32 = 0;
    while taken(base.wrapping_add(steps)) {
        steps += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(campaign: &str) -> OccurrenceKey {
        OccurrenceKey {
            project: "shop".into(),
            sdkappid: 1_400_000_000,
            campaign: campaign.into(),
            scheduled: "2026-12-08T02:00:00Z".parse().unwrap(),
        }
    }

    fn used(value: u32, occurrence: &str, at: &str) -> MsgRandomUse {
        MsgRandomUse {
            value,
            occurrence: occurrence.into(),
            at: at.parse().unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-08T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn no_collision_takes_the_base() {
        let k = key("sale");
        let choice = pick_msg_random(
            &k,
            &[used(
                k.base_msg_random().wrapping_add(1),
                "x",
                "2026-12-07T00:00:00Z",
            )],
            now(),
        );
        assert_eq!(
            choice,
            MsgRandomChoice {
                value: k.base_msg_random(),
                reused: false,
                perturbation: None
            }
        );
    }

    #[test]
    fn a_collision_within_seven_days_moves_to_the_next_free_value() {
        let k = key("sale");
        let base = k.base_msg_random();
        let uses = [
            used(base, "other-1", "2026-12-01T02:00:00Z"), // exactly 7 days ago: still blocks
            used(base.wrapping_add(1), "other-2", "2026-12-07T00:00:00Z"),
            used(base.wrapping_add(3), "other-3", "2026-12-07T00:00:00Z"),
        ];
        let choice = pick_msg_random(&k, &uses, now());
        assert_eq!(choice.value, base.wrapping_add(2));
        assert!(!choice.reused);
        assert_eq!(
            choice.perturbation,
            Some(Perturbation {
                base,
                steps: 2,
                collided_with: vec!["other-1".into(), "other-2".into()]
            })
        );
    }

    #[test]
    fn a_use_older_than_seven_days_does_not_block() {
        let k = key("sale");
        let uses = [used(k.base_msg_random(), "old", "2026-12-01T01:59:59.999Z")];
        assert_eq!(pick_msg_random(&k, &uses, now()).value, k.base_msg_random());
    }

    #[test]
    fn a_retry_reuses_the_recorded_value_even_if_it_was_perturbed() {
        let k = key("sale");
        let uses = [
            used(k.base_msg_random(), "other", "2026-12-07T00:00:00Z"),
            used(
                k.base_msg_random().wrapping_add(1),
                &k.id(),
                "2026-12-08T02:00:01Z",
            ),
        ];
        let choice = pick_msg_random(&k, &uses, now());
        assert_eq!(
            choice,
            MsgRandomChoice {
                value: k.base_msg_random().wrapping_add(1),
                reused: true,
                perturbation: None
            }
        );
    }

    #[test]
    fn the_perturbation_wraps_past_the_largest_value() {
        let taken = |v: u32| [u32::MAX - 1, u32::MAX, 0, 2].contains(&v);
        assert_eq!(steps_to_free(u32::MAX - 1, taken), 3);
        assert_eq!(u32::MAX.wrapping_sub(1).wrapping_add(3), 1);
        assert_eq!(steps_to_free(5, taken), 0);
    }

    /// Property tests (issue 12): random uses around the base value, some by the occurrence
    /// itself, some older than the window, against the rule of the module documentation written
    /// out by hand. Long run: `PROPTEST_CASES=20000 cargo test --lib msg_random::tests::prop`.
    mod prop {
        use super::*;
        use proptest::prelude::*;
        use std::collections::HashSet;

        /// A key with a random campaign and scheduled minute.
        fn any_key() -> impl Strategy<Value = OccurrenceKey> {
            ("[a-z]{1,8}", 0i64..(366 * 24 * 60)).prop_map(|(campaign, minute)| OccurrenceKey {
                project: "shop".into(),
                sdkappid: 1_400_000_000,
                campaign,
                scheduled: now() + TimeDelta::minutes(minute),
            })
        }

        /// Uses whose values sit at the base or a few steps after it (so collisions are common),
        /// or anywhere; by this occurrence or another; within the window, at its edge, or older.
        fn uses(own_id: String, base: u32) -> impl Strategy<Value = Vec<MsgRandomUse>> {
            let value = prop_oneof![
                4 => (0u32..12).prop_map(move |k| base.wrapping_add(k)),
                1 => any::<u32>(),
            ];
            let who = prop_oneof![
                8 => (0u8..6).prop_map(|i| format!("other-{i}")),
                1 => Just(own_id),
            ];
            let week = COLLISION_WINDOW.num_seconds();
            let at = prop_oneof![
                4 => (-week..=0).prop_map(|s| now() + TimeDelta::seconds(s)),
                1 => Just(now() - COLLISION_WINDOW),
                1 => Just(now() - COLLISION_WINDOW - TimeDelta::milliseconds(1)),
                2 => (-3 * week..-week).prop_map(|s| now() + TimeDelta::seconds(s)),
                1 => (0..86_400i64).prop_map(|s| now() + TimeDelta::seconds(s)),
            ];
            proptest::collection::vec(
                (value, who, at).prop_map(|(value, occurrence, at)| MsgRandomUse {
                    value,
                    occurrence,
                    at,
                }),
                0..24,
            )
        }

        fn key_and_uses() -> impl Strategy<Value = (OccurrenceKey, Vec<MsgRandomUse>)> {
            any_key().prop_flat_map(|k| {
                let base = k.base_msg_random();
                (Just(k.clone()), uses(k.id(), base))
            })
        }

        /// The values other occurrences of the app used in the 7 days before `now`.
        fn blocked(id: &str, uses: &[MsgRandomUse]) -> HashSet<u32> {
            uses.iter()
                .filter(|u| u.occurrence != id && u.at >= now() - COLLISION_WINDOW)
                .map(|u| u.value)
                .collect()
        }

        /// The documented rule, by hand.
        fn expected(k: &OccurrenceKey, uses: &[MsgRandomUse]) -> MsgRandomChoice {
            let id = k.id();
            if let Some(own) = uses.iter().rev().find(|u| u.occurrence == id) {
                return MsgRandomChoice {
                    value: own.value,
                    reused: true,
                    perturbation: None,
                };
            }
            let blocked = blocked(&id, uses);
            let base = k.base_msg_random();
            let mut value = base;
            let mut steps = 0u32;
            while blocked.contains(&value) {
                value = value.wrapping_add(1);
                steps += 1;
            }
            let perturbation = (steps > 0).then(|| {
                let passed: HashSet<u32> = (0..steps).map(|s| base.wrapping_add(s)).collect();
                let mut collided_with: Vec<String> = uses
                    .iter()
                    .filter(|u| u.at >= now() - COLLISION_WINDOW && passed.contains(&u.value))
                    .map(|u| u.occurrence.clone())
                    .collect();
                collided_with.sort();
                collided_with.dedup();
                Perturbation {
                    base,
                    steps,
                    collided_with,
                }
            });
            MsgRandomChoice {
                value,
                reused: false,
                perturbation,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn the_pick_is_the_documented_rule((k, uses) in key_and_uses(), seed in any::<u64>()) {
                let choice = pick_msg_random(&k, &uses, now());
                prop_assert_eq!(&choice, &expected(&k, &uses));
                if !choice.reused {
                    // Never a value another occurrence of the app used within 7 days.
                    prop_assert!(!blocked(&k.id(), &uses).contains(&choice.value));
                }
                // Deterministic: the same ledger and `now` give the same value.
                prop_assert_eq!(&pick_msg_random(&k, &uses, now()), &choice);
                // Without a use of its own, the order of the records does not matter.
                if !uses.iter().any(|u| u.occurrence == k.id()) {
                    let mut shuffled = uses.clone();
                    let n = shuffled.len();
                    for i in (1..n).rev() {
                        let j = usize::try_from(seed.rotate_left(u32::try_from(i).unwrap_or(0)) % (i as u64 + 1)).unwrap_or(0);
                        shuffled.swap(i, j);
                    }
                    prop_assert_eq!(&pick_msg_random(&k, &shuffled, now()), &choice);
                }
            }

            #[test]
            fn picks_from_one_pool_never_collide(
                keys in proptest::collection::vec(any_key(), 1..12),
                uses in uses("nobody".into(), 0),
            ) {
                let mut pool = MsgRandomPool::new(&uses, now());
                let mut picked: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
                for k in &keys {
                    let choice = pool.pick(k);
                    match picked.get(&k.id()) {
                        // A second pick of the same occurrence reuses its value.
                        Some(v) => prop_assert_eq!((choice.value, choice.reused), (*v, true)),
                        None => {
                            prop_assert!(!blocked(&k.id(), &uses).contains(&choice.value));
                            prop_assert!(!picked.values().any(|v| *v == choice.value));
                            picked.insert(k.id(), choice.value);
                        }
                    }
                }
            }

            #[test]
            fn the_perturbation_wraps(start in (u32::MAX - 8)..=u32::MAX, taken in proptest::collection::hash_set((u32::MAX - 10)..=u32::MAX, 0..10), low in proptest::collection::hash_set(0u32..6, 0..6)) {
                let all: HashSet<u32> = taken.union(&low).copied().collect();
                let steps = steps_to_free(start, |v| all.contains(&v));
                let value = start.wrapping_add(steps);
                prop_assert!(!all.contains(&value));
                for s in 0..steps {
                    prop_assert!(all.contains(&start.wrapping_add(s)));
                }
            }
        }
    }
}
