//! `mining.configure` (BIP 310): extension negotiation request and result map.
//!
//! Request: `[["version-rolling", ...], {"version-rolling.mask": "1fffe000",
//! "version-rolling.min-bit-count": 2, ...}]`. Result: `{"version-rolling": true,
//! "version-rolling.mask": "1fffe000", ...}`.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::encoding::HexU32;
use crate::error::{At, FieldError, ParamError};
use crate::json::Val;
use crate::params::{self, opt, opt_with};
use crate::serialize::Number;

/// Extension name for version rolling (ASICBoost).
pub const VERSION_ROLLING: &str = "version-rolling";
/// Extension name for the miner's minimum difficulty.
pub const MINIMUM_DIFFICULTY: &str = "minimum-difficulty";
/// Extension name for `mining.set_extranonce` support.
pub const SUBSCRIBE_EXTRANONCE: &str = "subscribe-extranonce";

const VR_MASK: &str = "version-rolling.mask";
const VR_MIN_BITS: &str = "version-rolling.min-bit-count";
const MD_VALUE: &str = "minimum-difficulty.value";

/// One extension requested by `mining.configure`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigureExtension {
    /// Version rolling with the miner's mask and minimum number of rollable bits.
    VersionRolling {
        /// Bits the miner would like to roll (`version-rolling.mask`).
        mask: Option<u32>,
        /// Minimum number of bits it needs (`version-rolling.min-bit-count`).
        min_bit_count: Option<u32>,
    },
    /// Minimum difficulty the miner wants (`minimum-difficulty.value`).
    MinimumDifficulty {
        /// The requested minimum.
        value: Option<f64>,
    },
    /// The miner understands `mining.set_extranonce`.
    SubscribeExtranonce,
    /// An extension this crate does not model (e.g. `info`), with its
    /// `name.key` parameters stored under `key`.
    Other {
        /// Extension name as sent.
        name: String,
        /// Its parameters, prefix removed.
        params: BTreeMap<String, Value>,
    },
}

impl ConfigureExtension {
    /// The extension's name on the wire.
    pub fn name(&self) -> &str {
        match self {
            ConfigureExtension::VersionRolling { .. } => VERSION_ROLLING,
            ConfigureExtension::MinimumDifficulty { .. } => MINIMUM_DIFFICULTY,
            ConfigureExtension::SubscribeExtranonce => SUBSCRIBE_EXTRANONCE,
            ConfigureExtension::Other { name, .. } => name,
        }
    }
}

/// Parameters of `mining.configure`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Configure {
    /// Requested extensions, in the order sent, without duplicates.
    pub extensions: Vec<ConfigureExtension>,
}

impl Configure {
    /// The requested version-rolling `(mask, min_bit_count)`, if version rolling was requested.
    pub fn version_rolling(&self) -> Option<(Option<u32>, Option<u32>)> {
        self.extensions.iter().find_map(|e| match e {
            ConfigureExtension::VersionRolling {
                mask,
                min_bit_count,
            } => Some((*mask, *min_bit_count)),
            _ => None,
        })
    }

    /// The requested minimum difficulty, if that extension was requested.
    pub fn minimum_difficulty(&self) -> Option<Option<f64>> {
        self.extensions.iter().find_map(|e| match e {
            ConfigureExtension::MinimumDifficulty { value } => Some(*value),
            _ => None,
        })
    }

    /// True if `subscribe-extranonce` was requested.
    pub fn subscribe_extranonce(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| matches!(e, ConfigureExtension::SubscribeExtranonce))
    }

    /// Reads the positional parameters, tolerating the shapes firmware sends:
    /// names as a list or a single string, the parameter map missing or null,
    /// or only a map (names then taken from its key prefixes).
    pub(crate) fn from_params(p: &[Val<'_>]) -> Result<Self, FieldError> {
        let first = opt(p, 0);
        let (names_val, map_val) = match first {
            Some(v @ Val::Obj(_)) => (None, Some(v)),
            _ => (first, opt(p, 1)),
        };
        let map = match map_val {
            Some(v) => params::object(v).at("extension parameters")?,
            None => &[],
        };
        let mut names: Vec<&str> = Vec::new();
        let check = |n: &str| -> Result<(), FieldError> {
            if n.is_empty() {
                return Err(ParamError::WrongType("an extension name")).at("extensions");
            }
            Ok(())
        };
        match names_val {
            Some(Val::Str(s)) => {
                check(s)?;
                names.push(s);
            }
            Some(v) => {
                for item in params::array(v).at("extensions")? {
                    let s = params::string(item).at("extensions")?;
                    check(s)?;
                    if !names.contains(&s) {
                        names.push(s);
                    }
                }
            }
            None => {
                for (key, _) in map {
                    let prefix = key.split('.').next().unwrap_or_default();
                    if !prefix.is_empty() && !names.contains(&prefix) {
                        names.push(prefix);
                    }
                }
            }
        }
        let lookup = |key: &str| {
            map.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Val::Null))
        };
        let mut extensions = Vec::with_capacity(names.len());
        for name in names {
            extensions.push(match name {
                VERSION_ROLLING => ConfigureExtension::VersionRolling {
                    mask: opt_with(lookup(VR_MASK), VR_MASK, params::hex_or_int_u32)?,
                    min_bit_count: opt_with(lookup(VR_MIN_BITS), VR_MIN_BITS, |v| {
                        params::unsigned(v)
                            .and_then(|n| u32::try_from(n).map_err(|_| ParamError::OutOfRange))
                    })?,
                },
                MINIMUM_DIFFICULTY => ConfigureExtension::MinimumDifficulty {
                    value: opt_with(lookup(MD_VALUE), MD_VALUE, params::non_negative_f64)?,
                },
                SUBSCRIBE_EXTRANONCE => ConfigureExtension::SubscribeExtranonce,
                other => ConfigureExtension::Other {
                    name: other.to_owned(),
                    params: map
                        .iter()
                        .filter_map(|(k, v)| {
                            let rest = k.strip_prefix(other)?.strip_prefix('.')?;
                            Some((rest.to_owned(), v.to_value()))
                        })
                        .collect(),
                },
            });
        }
        Ok(Configure { extensions })
    }
}

/// Serializes the `[names, map]` parameter list of a [`Configure`].
pub(crate) struct ConfigureParams<'a>(pub(crate) &'a Configure);

struct Names<'a>(&'a [ConfigureExtension]);
struct ParamMap<'a>(&'a [ConfigureExtension]);

impl Serialize for ConfigureParams<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&Names(&self.0.extensions))?;
        t.serialize_element(&ParamMap(&self.0.extensions))?;
        t.end()
    }
}

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(e.name())?;
        }
        seq.end()
    }
}

impl Serialize for ParamMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for e in self.0 {
            match e {
                ConfigureExtension::VersionRolling {
                    mask,
                    min_bit_count,
                } => {
                    if let Some(mask) = mask {
                        m.serialize_entry(VR_MASK, &HexU32(*mask))?;
                    }
                    if let Some(n) = min_bit_count {
                        m.serialize_entry(VR_MIN_BITS, n)?;
                    }
                }
                ConfigureExtension::MinimumDifficulty { value } => {
                    if let Some(v) = value {
                        m.serialize_entry(MD_VALUE, &Number(*v))?;
                    }
                }
                ConfigureExtension::SubscribeExtranonce => {}
                ConfigureExtension::Other { name, params } => {
                    for (k, v) in params {
                        m.serialize_entry(&format_args!("{name}.{k}"), v)?;
                    }
                }
            }
        }
        m.end()
    }
}

/// The result map of a `mining.configure` response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigureResult {
    /// `version-rolling`: whether the pool accepted version rolling. A string
    /// (an error description some pools send) is read as `false`.
    pub version_rolling: Option<bool>,
    /// `version-rolling.mask`: the bits the miner may roll.
    pub version_rolling_mask: Option<u32>,
    /// `minimum-difficulty`: whether the minimum difficulty was accepted.
    pub minimum_difficulty: Option<bool>,
    /// `subscribe-extranonce`: whether `mining.set_extranonce` will be used.
    pub subscribe_extranonce: Option<bool>,
    /// Every other member, as sent.
    pub other: BTreeMap<String, Value>,
}

impl ConfigureResult {
    /// A result accepting version rolling with `mask`.
    pub fn version_rolling(mask: u32) -> Self {
        ConfigureResult {
            version_rolling: Some(true),
            version_rolling_mask: Some(mask),
            ..Self::default()
        }
    }

    pub(crate) fn from_members(
        members: &[(std::borrow::Cow<'_, str>, Val<'_>)],
    ) -> Result<Self, FieldError> {
        let mut r = ConfigureResult::default();
        for (k, v) in members {
            match k.as_ref() {
                VERSION_ROLLING => {
                    r.version_rolling = match v {
                        Val::Null => None,
                        Val::Str(_) => Some(false),
                        v => Some(params::boolean(v).at(VERSION_ROLLING)?),
                    }
                }
                VR_MASK => {
                    r.version_rolling_mask = opt_with(non_null(v), VR_MASK, params::hex_or_int_u32)?
                }
                MINIMUM_DIFFICULTY => {
                    r.minimum_difficulty =
                        opt_with(non_null(v), MINIMUM_DIFFICULTY, params::boolean)?
                }
                SUBSCRIBE_EXTRANONCE => {
                    r.subscribe_extranonce =
                        opt_with(non_null(v), SUBSCRIBE_EXTRANONCE, params::boolean)?
                }
                other => {
                    r.other.insert(other.to_owned(), v.to_value());
                }
            }
        }
        Ok(r)
    }
}

fn non_null<'v, 'a>(v: &'v Val<'a>) -> Option<&'v Val<'a>> {
    (!matches!(v, Val::Null)).then_some(v)
}

impl Serialize for ConfigureResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(b) = self.version_rolling {
            m.serialize_entry(VERSION_ROLLING, &b)?;
        }
        if let Some(mask) = self.version_rolling_mask {
            m.serialize_entry(VR_MASK, &HexU32(mask))?;
        }
        if let Some(b) = self.minimum_difficulty {
            m.serialize_entry(MINIMUM_DIFFICULTY, &b)?;
        }
        if let Some(b) = self.subscribe_extranonce {
            m.serialize_entry(SUBSCRIBE_EXTRANONCE, &b)?;
        }
        for (k, v) in &self.other {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Envelope;

    fn parse(params: &str) -> Result<Configure, FieldError> {
        let line = format!(r#"{{"id":1,"method":"mining.configure","params":{params}}}"#);
        let env = Envelope::parse(&line).unwrap();
        Configure::from_params(env.params())
    }

    #[test]
    fn bip310_example() {
        let c = parse(
            r#"[["minimum-difficulty","version-rolling"],
                {"minimum-difficulty.value":2048,"version-rolling.mask":"00fff000",
                 "version-rolling.min-bit-count":2}]"#,
        )
        .unwrap();
        assert_eq!(c.minimum_difficulty(), Some(Some(2048.0)));
        assert_eq!(c.version_rolling(), Some((Some(0x00fff000), Some(2))));
        assert!(!c.subscribe_extranonce());
        assert_eq!(c.extensions[0].name(), MINIMUM_DIFFICULTY);
    }

    #[test]
    fn odd_shapes() {
        // Only the name list.
        let c = parse(r#"[["version-rolling"]]"#).unwrap();
        assert_eq!(c.version_rolling(), Some((None, None)));
        // A single name instead of a list, null map.
        let c = parse(r#"["subscribe-extranonce", null]"#).unwrap();
        assert!(c.subscribe_extranonce());
        // Only a map.
        let c =
            parse(r#"[{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":"16"}]"#)
                .unwrap();
        assert_eq!(c.version_rolling(), Some((Some(0x1fffe000), Some(16))));
        // Numeric mask, string difficulty, duplicate names, unknown extension.
        let c = parse(
            r#"[["version-rolling","version-rolling","info","minimum-difficulty"],
                {"version-rolling.mask":536862720,"minimum-difficulty.value":"512",
                 "info.hw-version":"S19","info.connection-url":"stratum+tcp://x:3333"}]"#,
        )
        .unwrap();
        assert_eq!(c.extensions.len(), 3);
        assert_eq!(c.version_rolling(), Some((Some(0x1fffe000), None)));
        assert_eq!(c.minimum_difficulty(), Some(Some(512.0)));
        match &c.extensions[1] {
            ConfigureExtension::Other { name, params } => {
                assert_eq!(name, "info");
                assert_eq!(params["hw-version"], Value::from("S19"));
                assert_eq!(params.len(), 2);
            }
            e => panic!("unexpected {e:?}"),
        }
        // Nothing at all.
        assert_eq!(parse("[]").unwrap(), Configure::default());
        assert_eq!(parse("[[], {}]").unwrap(), Configure::default());
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse(r#"[[1]]"#).unwrap_err().field, "extensions");
        assert_eq!(parse(r#"[[""]]"#).unwrap_err().field, "extensions");
        assert_eq!(
            parse(r#"[["x"], 5]"#).unwrap_err().field,
            "extension parameters"
        );
        assert_eq!(
            parse(r#"[["version-rolling"], {"version-rolling.mask":"xyz"}]"#)
                .unwrap_err()
                .field,
            VR_MASK
        );
        assert_eq!(
            parse(r#"[["minimum-difficulty"], {"minimum-difficulty.value":-1}]"#)
                .unwrap_err()
                .reason,
            ParamError::OutOfRange
        );
    }

    #[test]
    fn result_wire_form() {
        let r = ConfigureResult::version_rolling(0x1fffe000);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"version-rolling":true,"version-rolling.mask":"1fffe000"}"#
        );
        let env = Envelope::parse(
            r#"{"result":{"version-rolling":"not supported","minimum-difficulty":true,"x":[1]}}"#,
        )
        .unwrap();
        let Some(Val::Obj(members)) = &env.result else {
            panic!("no object")
        };
        let r = ConfigureResult::from_members(members).unwrap();
        assert_eq!(r.version_rolling, Some(false));
        assert_eq!(r.minimum_difficulty, Some(true));
        assert_eq!(r.other["x"], serde_json::json!([1]));
    }

    #[test]
    fn request_wire_form() {
        let c = Configure {
            extensions: vec![
                ConfigureExtension::VersionRolling {
                    mask: Some(0x1fffe000),
                    min_bit_count: Some(2),
                },
                ConfigureExtension::SubscribeExtranonce,
            ],
        };
        assert_eq!(
            serde_json::to_string(&ConfigureParams(&c)).unwrap(),
            r#"[["version-rolling","subscribe-extranonce"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]"#
        );
    }
}
