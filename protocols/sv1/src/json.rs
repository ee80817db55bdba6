//! A JSON value that borrows strings from the input line.
//!
//! `serde_json::Value` allocates for every string and object key; Stratum
//! messages are mostly short strings, so borrowing them keeps a parsed
//! `mining.submit` to a couple of allocations.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::Sv1Error;
use crate::id::Id;

/// A JSON number as serde_json reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    U(u64),
    I(i64),
    F(f64),
}

/// A parsed JSON value borrowing from the input where possible.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(Num),
    Str(Cow<'a, str>),
    Arr(Vec<Val<'a>>),
    Obj(Vec<(Cow<'a, str>, Val<'a>)>),
}

impl Val<'_> {
    /// Converts to an owned `serde_json::Value` (used only for unmodelled content).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(Num::U(u)) => Value::from(*u),
            Val::Num(Num::I(i)) => Value::from(*i),
            Val::Num(Num::F(f)) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            Val::Str(s) => Value::String(s.as_ref().to_owned()),
            Val::Arr(items) => Value::Array(items.iter().map(Val::to_value).collect()),
            Val::Obj(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Looks up an object member by key (first match).
    pub(crate) fn member(&self, key: &str) -> Option<&Self> {
        match self {
            Val::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct ValVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ValVisitor<'a> {
    type Value = Val<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Val::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Val::Num(if v >= 0 {
            Num::U(v.unsigned_abs())
        } else {
            Num::I(v)
        }))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Val::Num(Num::U(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Val::Num(Num::F(v)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Val::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Val::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Val::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Val::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Val<'a>>()? {
            items.push(v);
        }
        Ok(Val::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            let v = map.next_value::<Val<'a>>()?;
            members.push((k, v));
        }
        Ok(Val::Obj(members))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor(PhantomData))
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

struct KeyVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
    type Value = Key<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor(PhantomData))
    }
}

/// The top-level members of a Stratum message; other members are skipped
/// without being stored. `Some(Val::Null)` means "present and null".
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    pub(crate) id: Option<Val<'a>>,
    pub(crate) method: Option<Val<'a>>,
    pub(crate) params: Option<Val<'a>>,
    pub(crate) result: Option<Val<'a>>,
    pub(crate) error: Option<Val<'a>>,
}

struct EnvelopeVisitor<'a>(PhantomData<&'a ()>);

fn fill<'de, 'a, A: MapAccess<'de>>(slot: &mut Option<Val<'a>>, map: &mut A) -> Result<(), A::Error>
where
    'de: 'a,
{
    if slot.is_none() {
        *slot = Some(map.next_value::<Val<'a>>()?);
    } else {
        map.next_value::<IgnoredAny>()?;
    }
    Ok(())
}

impl<'de: 'a, 'a> Visitor<'de> for EnvelopeVisitor<'a> {
    type Value = Envelope<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = Envelope::default();
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            match k.as_ref() {
                "id" => fill(&mut env.id, &mut map)?,
                "method" => fill(&mut env.method, &mut map)?,
                "params" => fill(&mut env.params, &mut map)?,
                "result" => fill(&mut env.result, &mut map)?,
                "error" => fill(&mut env.error, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(env)
    }
}

impl<'a> Envelope<'a> {
    /// Parses one line (surrounding whitespace allowed, nothing else after the object).
    pub(crate) fn parse(line: &'a str) -> Result<Self, Sv1Error> {
        if !line.trim_start().starts_with('{') {
            return Err(Sv1Error::NotAnObject);
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let env = de.deserialize_map(EnvelopeVisitor(PhantomData))?;
        de.end()?;
        Ok(env)
    }

    /// The message id; absent means null.
    pub(crate) fn id(&self) -> Result<Id, Sv1Error> {
        match &self.id {
            None | Some(Val::Null) => Ok(Id::Null),
            Some(Val::Num(Num::U(u))) => Ok(Id::from(*u)),
            Some(Val::Num(Num::I(i))) => Ok(Id::from(*i)),
            Some(Val::Num(Num::F(f))) => serde_json::Number::from_f64(*f)
                .map(Id::Number)
                .ok_or(Sv1Error::InvalidId),
            Some(Val::Str(s)) => Ok(Id::String(s.as_ref().to_owned())),
            Some(_) => Err(Sv1Error::InvalidId),
        }
    }

    /// The positional parameters: missing or null is empty, a lone non-array
    /// value is treated as a one-element list.
    pub(crate) fn params(&self) -> &[Val<'a>] {
        match &self.params {
            None | Some(Val::Null) => &[],
            Some(Val::Arr(items)) => items,
            Some(other) => std::slice::from_ref(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_owns_escaped_ones() {
        let line = r#"{"id":1,"method":"mining.submit","params":["w\"x","job"]}"#;
        let env = Envelope::parse(line).unwrap();
        let p = env.params();
        assert!(matches!(&p[0], Val::Str(Cow::Owned(s)) if s == "w\"x"));
        assert!(matches!(&p[1], Val::Str(Cow::Borrowed("job"))));
        assert!(matches!(
            env.method,
            Some(Val::Str(Cow::Borrowed("mining.submit")))
        ));
    }

    #[test]
    fn first_duplicate_wins_and_unknown_members_are_skipped() {
        let line = r#"{"jsonrpc":"2.0","id":1,"id":2,"extra":{"a":[1,2]},"result":null}"#;
        let env = Envelope::parse(line).unwrap();
        assert_eq!(env.id().unwrap(), Id::from(1u64));
        assert_eq!(env.result, Some(Val::Null));
        assert_eq!(env.error, None);
    }

    #[test]
    fn rejects_non_objects_and_trailing_garbage() {
        assert!(matches!(
            Envelope::parse("[1,2]"),
            Err(Sv1Error::NotAnObject)
        ));
        assert!(matches!(Envelope::parse(""), Err(Sv1Error::NotAnObject)));
        assert!(matches!(
            Envelope::parse(r#"{"id":1} x"#),
            Err(Sv1Error::Json(_))
        ));
        assert!(matches!(
            Envelope::parse(r#"{"id":1"#),
            Err(Sv1Error::Json(_))
        ));
        assert!(Envelope::parse(" {\"id\":1} \r").is_ok());
    }

    #[test]
    fn id_forms() {
        let id = |s: &str| Envelope::parse(s).unwrap().id();
        assert_eq!(id(r#"{}"#).unwrap(), Id::Null);
        assert_eq!(id(r#"{"id":"7"}"#).unwrap(), Id::from("7"));
        assert_eq!(id(r#"{"id":-2}"#).unwrap(), Id::from(-2i64));
        assert_eq!(id(r#"{"id":1.5}"#).unwrap().to_string(), "1.5");
        assert!(matches!(id(r#"{"id":[1]}"#), Err(Sv1Error::InvalidId)));
        assert!(matches!(id(r#"{"id":true}"#), Err(Sv1Error::InvalidId)));
    }

    #[test]
    fn params_shapes() {
        let env = Envelope::parse(r#"{"params":1024}"#).unwrap();
        assert_eq!(env.params(), &[Val::Num(Num::U(1024))]);
        let env = Envelope::parse(r#"{"params":null}"#).unwrap();
        assert!(env.params().is_empty());
    }

    #[test]
    fn to_value_converts_everything() {
        let env = Envelope::parse(r#"{"params":[null,true,-1,2.5,"s",{"k":[1]}]}"#).unwrap();
        let v = Val::Arr(env.params().to_vec()).to_value();
        assert_eq!(v, serde_json::json!([null, true, -1, 2.5, "s", {"k": [1]}]));
    }
}
